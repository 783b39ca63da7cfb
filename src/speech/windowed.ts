/**
 * Audio of any length through the engine, window by window: Silero VAD cuts a stream of PCM into
 * windows of at most 30 s at pauses (vad/windows.ts), each window is one engine request, and the
 * next window goes to the engine while it still decodes the current one, so the engine never
 * idles on VAD or ffmpeg. Memory holds about two windows of audio whatever the length; silence
 * between windows is never decoded; and since each window is its own request, more urgent ones
 * (a short request, a stream's final) get the engine between two windows.
 *
 * With `groups` (an engine with `transcribeMany`, engine.windowBatch > 1), windows go to the
 * engine `size` at a time as one request, which decodes them together (whisper/lockstep.ts);
 * a more urgent request then gets the engine between two model runs of the group instead.
 *
 * Long-form jobs (jobs/recognize.ts) and the OpenAI-compatible route's long files run this loop.
 */
import { whenEngineFree, type SpeechEngine, type TranscribeOptions, type Transcript } from './engine.js';
import type { SileroVad } from './vad/silero.js';
import { VadWindower, type SpeechWindow, type WindowerOptions } from './vad/windows.js';

/** Windows (or groups of windows, see `WindowGroups`) handed to the engine before the first of them is awaited. */
const IN_FLIGHT = 2;

/** Windows sent to the engine together, `size` at a time (SpeechEngine.transcribeMany). */
export interface WindowGroups {
  size: number;
  transcribe: (pcms: Float32Array[]) => Promise<Transcript[]>;
}

/**
 * `engine`'s window groups for requests of `opts` (each waiting while its queue is full, as
 * long-form windows do), or undefined when it decodes one window at a time.
 */
export function engineWindowGroups(engine: SpeechEngine, opts: TranscribeOptions, signal: AbortSignal | undefined): WindowGroups | undefined {
  const size = engine.windowBatch ?? 1;
  const many = engine.transcribeMany?.bind(engine);
  if (many === undefined || size < 2) return undefined;
  return { size, transcribe: (pcms) => whenEngineFree(signal, () => many(pcms, opts)) };
}

export interface WindowTranscript {
  /** The window, absolute sample offsets from the start of the stream; its `pcm` is dropped (empty). */
  window: SpeechWindow;
  transcript: Transcript;
}

/**
 * Iterate it once: yields each window's transcript in order, as soon as that window and every
 * window before it are done. Stopping early (break, throw) waits for the windows in flight to
 * settle, so none runs on for nobody (the caller's AbortSignal is what stops them sooner).
 */
export class WindowedTranscription implements AsyncIterable<WindowTranscript> {
  private readonly windower: VadWindower;

  constructor(
    vad: SileroVad,
    private readonly pcm: AsyncIterable<Float32Array>,
    /** One window's decode (its times relative to the window's start). */
    private readonly transcribe: (pcm: Float32Array) => Promise<Transcript>,
    windower: Partial<WindowerOptions> = {},
    private readonly groups?: WindowGroups,
  ) {
    this.windower = new VadWindower(vad, windower);
  }

  /** Samples read from the stream so far (all of it, once iteration has ended). */
  get received(): number {
    return this.windower.received;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<WindowTranscript> {
    const pending: Array<{ window: SpeechWindow; transcript: Promise<Transcript> }> = [];
    const size = Math.max(1, this.groups?.size ?? 1);
    const limit = IN_FLIGHT * size;
    const group: SpeechWindow[] = [];
    const flush = (): void => {
      const windows = group.splice(0);
      if (windows.length === 0) return;
      const all = windows.length > 1 && this.groups !== undefined
        ? this.groups.transcribe(windows.map((w) => w.pcm))
        : this.transcribe(windows[0].pcm).then((t) => [t]);
      windows.forEach((window, i) => {
        const transcript = all.then((ts) => ts[i]);
        transcript.catch(() => undefined); // awaited in order below
        // The engine keeps its own copy; dropping ours keeps memory at the windows in flight.
        pending.push({ window: { ...window, pcm: new Float32Array(0) }, transcript });
      });
    };
    const start = (window: SpeechWindow): void => {
      group.push(window);
      if (group.length >= size) flush();
    };
    const settleFirst = async (): Promise<WindowTranscript> => {
      const first = pending.shift() as { window: SpeechWindow; transcript: Promise<Transcript> };
      return { window: first.window, transcript: await first.transcript };
    };
    try {
      for await (const chunk of this.pcm) {
        for (const window of await this.windower.push(chunk)) {
          start(window);
          while (pending.length >= limit) yield await settleFirst();
        }
      }
      for (const window of await this.windower.finish()) {
        start(window);
        while (pending.length >= limit) yield await settleFirst();
      }
      flush();
      while (pending.length > 0) yield await settleFirst();
    } finally {
      for (const p of pending) await p.transcript.catch(() => undefined);
    }
  }
}
