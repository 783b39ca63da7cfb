/**
 * Long-form recognition in-process, next to the bare engine on the same audio:
 *   bare:      decodeFile + engine.transcribe(pcm) (the whole file, 30 s seek loop inside)
 *   long-form: recognizeMedia (ffmpeg stream -> Silero VAD windows -> engine per window with
 *              word timings -> CLOVA segments), exactly what a job runs.
 * Same engine (one inference process), same beam, batch priority; only one computes at a time.
 */
import { join } from 'node:path';
import { decodeFile, probeFile } from '../../src/media/decode.js';
import type { SpeechEngine } from '../../src/speech/engine.js';
import { SileroVad } from '../../src/speech/vad/silero.js';
import { recognizeMedia } from '../../src/jobs/recognize.js';
import type { LongformSegment } from '../../src/transcript/segments.js';
import { since } from './stats.js';

export interface TimedText {
  procS: number;
  text: string;
}

export interface BareRun extends TimedText {
  decodeS: number;
}

export interface LongformRun extends TimedText {
  segments: LongformSegment[];
  /** Media length the run decoded (ms), as the job reports it. */
  durationMs: number;
}

export function loadVad(modelsDir: string): Promise<SileroVad> {
  return SileroVad.load(join(modelsDir, 'silero-vad'));
}

export async function runBare(engine: SpeechEngine, path: string, language: string, beamSize: number): Promise<BareRun> {
  const t0 = performance.now();
  const { pcm } = await decodeFile(path, { timeoutMs: 600_000 });
  const decodeS = since(t0);
  const tr = await engine.transcribe(pcm, { language, beamSize, priority: 'batch' });
  return { procS: since(t0), decodeS, text: tr.text };
}

/**
 * The engine's default beam is what long-form uses (recognizeMedia names none), so the engine
 * must have been created with the bench's beam.
 */
export async function runLongform(engine: SpeechEngine, vad: SileroVad, path: string, language: string): Promise<LongformRun> {
  const t0 = performance.now();
  // As the job runner does: probe first (for progress), then stream.
  const info = await probeFile(path);
  const out = await recognizeMedia(engine, vad, { mediaPath: path, language, resumeAtMs: 0, done: [], durationS: info.durationS });
  return {
    procS: since(t0),
    segments: out.segments,
    durationMs: out.durationMs,
    text: out.segments.map((s) => s.text).join(' '),
  };
}
