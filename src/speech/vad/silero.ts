import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { SAMPLE_RATE } from '../../audio.js';
import { GuardedSession } from '../onnx-runs.js';

/**
 * Silero VAD (v5/v6 ONNX): speech probability per 32 ms window, then speech segments with the
 * same rules as Silero's own `get_speech_timestamps` (hysteresis thresholds, minimum speech and
 * silence, padding, splitting of over-long speech at its last pause).
 */
export const VAD_WINDOW = 512;
/** Silero's wrapper feeds each window with the 64 samples before it. */
const CONTEXT = 64;

export interface SpeechSegment {
  /** Sample offsets in the 16 kHz input. */
  start: number;
  end: number;
}

export interface VadOptions {
  threshold: number;
  minSpeechMs: number;
  minSilenceMs: number;
  speechPadMs: number;
  maxSpeechS: number;
}

export const DEFAULT_VAD_OPTIONS: VadOptions = {
  threshold: 0.5,
  minSpeechMs: 250,
  minSilenceMs: 100,
  speechPadMs: 30,
  maxSpeechS: Infinity,
};

/** The process's Silero loader; `close()` releases the model once nothing uses it any more. */
export type VadLoader = (() => Promise<SileroVad>) & { close(): Promise<void> };

/**
 * One Silero model per process, loaded on first use (long-form jobs and streams share it); a
 * failed load is retried on the next call rather than remembered.
 */
export function sharedVadLoader(modelsDir: string): VadLoader {
  let vad: Promise<SileroVad> | undefined;
  let closed = false;
  const load = (): Promise<SileroVad> => {
    // A job interrupted by shutdown may reach its next VAD pass after close(): loading a model
    // then, with the process about to exit, aborted it like a release under a running run.
    if (closed) return Promise.reject(new Error('the VAD was closed (shutting down)'));
    vad ??= SileroVad.load(join(modelsDir, 'silero-vad')).catch((err: unknown) => {
      vad = undefined;
      throw err;
    });
    return vad;
  };
  return Object.assign(load, {
    async close(): Promise<void> {
      closed = true;
      const loaded = vad;
      vad = undefined;
      await (await loaded?.catch(() => undefined))?.close();
    },
  });
}

export class SileroVad {
  private readonly session: GuardedSession;

  private constructor(session: ort.InferenceSession) {
    this.session = new GuardedSession(session);
  }

  static async load(modelDir: string): Promise<SileroVad> {
    const session = await ort.InferenceSession.create(join(modelDir, 'silero_vad.onnx'), {
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
    });
    return new SileroVad(session);
  }

  /**
   * Released explicitly: an ONNX session left to the garbage collector is finalised while Node
   * tears the process down, which can abort it ("terminate called after throwing an instance of
   * 'Napi::Error'", seen at the end of a test file); after the runs in flight (GuardedSession).
   */
  async close(): Promise<void> {
    await this.session.release();
  }

  /** A stateful stream: feed windows in order (streaming uses this across chunks). */
  stream(): VadStream {
    return new VadStream(this.session);
  }

  /** Speech probability of every 512-sample window of `pcm` (the last one zero-padded). */
  async probabilities(pcm: Float32Array, signal?: AbortSignal): Promise<Float32Array> {
    const s = this.stream();
    const n = Math.ceil(pcm.length / VAD_WINDOW);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      if (signal?.aborted) throw signal.reason ?? new Error('aborted');
      out[i] = await s.push(pcm.subarray(i * VAD_WINDOW, (i + 1) * VAD_WINDOW));
    }
    return out;
  }

  async segments(pcm: Float32Array, opts: Partial<VadOptions> = {}): Promise<SpeechSegment[]> {
    return speechSegments(await this.probabilities(pcm), pcm.length, { ...DEFAULT_VAD_OPTIONS, ...opts });
  }
}

export class VadStream {
  private state: ort.Tensor = new ort.Tensor('float32', new Float32Array(2 * 128), [2, 1, 128]);
  private readonly context = new Float32Array(CONTEXT);
  private readonly sr = new ort.Tensor('int64', BigInt64Array.from([BigInt(SAMPLE_RATE)]), []);

  constructor(private readonly session: GuardedSession) {}

  /** One window of up to 512 samples (shorter ones are zero-padded); returns P(speech). */
  async push(window: Float32Array): Promise<number> {
    const x = new Float32Array(CONTEXT + VAD_WINDOW);
    x.set(this.context, 0);
    x.set(window.subarray(0, VAD_WINDOW), CONTEXT);
    this.context.set(x.subarray(x.length - CONTEXT));
    const out = await this.session.run({ input: new ort.Tensor('float32', x, [1, x.length]), state: this.state, sr: this.sr });
    this.state = out.stateN;
    return (out.output.data as Float32Array)[0];
  }
}

/** Silero's get_speech_timestamps over precomputed window probabilities. */
export function speechSegments(probs: Float32Array, totalSamples: number, o: VadOptions): SpeechSegment[] {
  const sr = SAMPLE_RATE;
  const win = VAD_WINDOW;
  const negThreshold = Math.max(o.threshold - 0.15, 0.01);
  const minSpeech = (sr * o.minSpeechMs) / 1000;
  const pad = Math.floor((sr * o.speechPadMs) / 1000);
  const maxSpeech = sr * o.maxSpeechS - win - 2 * pad;
  const minSilence = (sr * o.minSilenceMs) / 1000;
  const minSilenceAtMax = (sr * 98) / 1000;

  const out: SpeechSegment[] = [];
  let triggered = false;
  let cur: { start: number; end?: number } | null = null;
  let tempEnd = 0;
  let prevEnd = 0;
  let nextStart = 0;
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i];
    const at = win * i;
    if (p >= o.threshold && tempEnd) {
      tempEnd = 0;
      if (nextStart < prevEnd) nextStart = at;
    }
    if (p >= o.threshold && !triggered) {
      triggered = true;
      cur = { start: at };
      continue;
    }
    if (triggered && cur && at - cur.start > maxSpeech) {
      // Too long: cut at the last pause seen inside it, or right here if there was none.
      if (prevEnd) {
        out.push({ start: cur.start, end: prevEnd });
        if (nextStart < prevEnd) { triggered = false; cur = null; } else cur = { start: nextStart };
      } else {
        out.push({ start: cur.start, end: at });
        triggered = false;
        cur = null;
      }
      prevEnd = 0;
      nextStart = 0;
      tempEnd = 0;
      continue;
    }
    if (p < negThreshold && triggered && cur) {
      if (!tempEnd) tempEnd = at;
      if (at - tempEnd > minSilenceAtMax) prevEnd = tempEnd;
      if (at - tempEnd < minSilence) continue;
      if (tempEnd - cur.start > minSpeech) out.push({ start: cur.start, end: tempEnd });
      cur = null;
      prevEnd = 0;
      nextStart = 0;
      tempEnd = 0;
      triggered = false;
    }
  }
  if (cur && totalSamples - cur.start > minSpeech) out.push({ start: cur.start, end: totalSamples });

  for (let i = 0; i < out.length; i++) {
    if (i === 0) out[i].start = Math.max(0, out[i].start - pad);
    if (i < out.length - 1) {
      const silence = out[i + 1].start - out[i].end;
      if (silence < 2 * pad) {
        out[i].end += Math.floor(silence / 2);
        out[i + 1].start = Math.max(0, out[i + 1].start - Math.floor(silence / 2));
      } else {
        out[i].end = Math.min(totalSamples, out[i].end + pad);
        out[i + 1].start = Math.max(0, out[i + 1].start - pad);
      }
    } else {
      out[i].end = Math.min(totalSamples, out[i].end + pad);
    }
  }
  return out;
}
