/**
 * The recognition behind one OpenAI audio request, in parts as they are ready: ffmpeg streams the
 * upload's PCM; audio that fits one Whisper window (30 s) is one engine request at short
 * priority, exactly what POST /recog/v1/stt asks; longer audio goes through the long-form
 * pipeline's window loop (speech/windowed.ts: Silero VAD windows at pauses, two in flight, batch
 * priority) in this process, one part per window.
 *
 * Why that loop and not one engine request over the whole file (the engine's own 30 s seek
 * loop): the decoded audio never sits whole in memory (a 25 MB upload of compressed speech can
 * hold hours), silence between windows is never decoded, windows end at pauses rather than
 * wherever 30 s falls, each window is its own engine request so short requests and streams get
 * the engine between two of them, and it is the code long-form jobs run and are measured with.
 * Not the job queue: the client is waiting on this connection, a job row and a second copy of
 * the upload would only add latency and state for nothing.
 */
import { SAMPLE_RATE } from '../../audio.js';
import { MediaError, probeFile } from '../../media/decode.js';
import { streamPcm } from '../../media/pcm-stream.js';
import { whenEngineFree, type Segment, type SpeechEngine, type TranscribeOptions, type Transcript } from '../../speech/engine.js';
import type { SileroVad } from '../../speech/vad/silero.js';
import { engineWindowGroups, WindowedTranscription } from '../../speech/windowed.js';
import { HOP, WINDOW_SAMPLES } from '../../speech/whisper/features.js';
import type { AudioRequest } from './params.js';

/** A pause this long is where a window prefers to end (long-form's value). */
const WINDOW_PAUSE_S = 0.5;
/** Lossy codecs pad the last frame: audio this much over the limit still counts as within it. */
const LENGTH_SLACK_S = 0.3;

export interface RecognizedPart {
  /** The part's text (the whole audio's, or one window's). */
  text: string;
  /** Its segments, times in seconds from the start of the audio. */
  segments: Segment[];
  /** The language decoded (named, or identified from the first 30 s). */
  language: string;
}

export interface RecognitionInput {
  engine: SpeechEngine;
  vad: () => Promise<SileroVad>;
  /** The uploaded media on disk. */
  path: string;
  request: AudioRequest;
  maxSeconds: number;
  signal: AbortSignal;
}

/** What the engine is asked for every part of this request. */
export function engineOptions(request: AudioRequest): Omit<TranscribeOptions, 'priority' | 'signal'> {
  const subtitles = request.responseFormat === 'srt' || request.responseFormat === 'vtt';
  return {
    language: request.language,
    task: request.task,
    prompt: request.prompt,
    temperature: request.temperature,
    wordTimestamps: request.words,
    // Whisper's own timed segments where they are shown; plain text needs none (fewer steps).
    segmentTimestamps: subtitles || (request.responseFormat === 'verbose_json' && request.segments),
  };
}

/** What a recognition has seen so far; final once its parts are all read. */
export interface AudioSeen {
  /** Samples of audio decoded. */
  samples: number;
  /** The language decoded (named, or identified), once any part was decoded, text or not. */
  language?: string;
}

/**
 * Yields the recognition's parts that hold text, in order, and fills `audio` in as it goes.
 * MediaError for input that is not audio, is empty, or is longer than maxSeconds.
 */
export async function* recognizeAudio(input: RecognitionInput, audio: AudioSeen): AsyncGenerator<RecognizedPart> {
  const { engine, path, maxSeconds, signal } = input;
  const options = engineOptions(input.request);
  const limit = Math.round((maxSeconds + LENGTH_SLACK_S) * SAMPLE_RATE);
  const tooLong = () => new MediaError('too-long', `the audio is longer than ${maxSeconds} s`);
  // ffmpeg stops a little past the limit, so a file far longer is never decoded to the end.
  const pcm = streamPcm(path, { outputArgs: ['-t', (maxSeconds + 2 * LENGTH_SLACK_S).toFixed(3)], signal })[Symbol.asyncIterator]();
  try {
    // Up to one window and a chunk: that tells short audio from long.
    const head: Float32Array[] = [];
    let ended = false;
    while (audio.samples <= WINDOW_SAMPLES) {
      const next = await pcm.next();
      if (next.done === true) {
        ended = true;
        break;
      }
      head.push(next.value);
      audio.samples += next.value.length;
    }
    if (audio.samples > limit) throw tooLong();
    if (ended) {
      if (audio.samples === 0) throw new MediaError('empty', 'the media contains no audio samples');
      const transcript = await engine.transcribe(concat(head, audio.samples), { ...options, priority: 'short', signal });
      audio.language = transcript.language;
      if (transcript.text.trim() === '') return;
      yield { text: transcript.text, segments: transcript.segments, language: transcript.language };
      return;
    }

    // Long audio. A container that says it is too long is refused before anything is decoded.
    const claimed = (await probeFile(path, { signal })).durationS;
    if (claimed !== undefined && claimed > maxSeconds + 1) throw tooLong();
    async function* rest(): AsyncGenerator<Float32Array> {
      yield* head;
      for (;;) {
        const next = await pcm.next();
        if (next.done === true) return;
        audio.samples += next.value.length;
        if (audio.samples > limit) throw tooLong();
        yield next.value;
      }
    }
    // No language named: the first window's identifies it, and the others are decoded in it.
    let language: Promise<string> | undefined = options.language === undefined ? undefined : Promise.resolve(options.language);
    const transcribe = async (window: Float32Array): Promise<Transcript> => {
      if (language === undefined) {
        const first = transcribeWhenFree(engine, window, options, signal);
        language = first.then((t) => t.language);
        return first;
      }
      return transcribeWhenFree(engine, window, { ...options, language: await language }, signal);
    };
    // Windows decoded together (engine.windowBatch) once their language is known, i.e. named.
    const groups = options.language === undefined ? undefined : engineWindowGroups(engine, { ...options, priority: 'batch', signal }, signal);
    const windows = new WindowedTranscription(await input.vad(), rest(), transcribe, { longPauseS: WINDOW_PAUSE_S }, groups);
    for await (const { window, transcript } of windows) {
      audio.language ??= transcript.language;
      if (transcript.text.trim() === '') continue;
      yield { text: transcript.text, segments: shifted(transcript.segments, window.start), language: transcript.language };
    }
  } finally {
    await pcm.return?.(undefined);
  }
}

/** A long file's window waits for room in the engine queue, as long-form windows do. */
function transcribeWhenFree(
  engine: SpeechEngine, pcm: Float32Array, options: Omit<TranscribeOptions, 'priority' | 'signal'>, signal: AbortSignal,
): Promise<Transcript> {
  return whenEngineFree(signal, () => engine.transcribe(pcm, { ...options, priority: 'batch', signal }));
}

/** A window's segments on the audio's time axis (its start in samples). */
function shifted(segments: readonly Segment[], startSample: number): Segment[] {
  const offsetS = startSample / SAMPLE_RATE;
  const frames = Math.round(startSample / HOP);
  const at = (t: number) => Math.round((t + offsetS) * 1000) / 1000;
  return segments.map((s) => ({
    ...s,
    start: at(s.start),
    end: at(s.end),
    ...(s.seek === undefined ? {} : { seek: s.seek + frames }),
    ...(s.words === undefined ? {} : { words: s.words.map((w) => ({ ...w, start: at(w.start), end: at(w.end) })) }),
  }));
}

function concat(chunks: readonly Float32Array[], samples: number): Float32Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Float32Array(samples);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
