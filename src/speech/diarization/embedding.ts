/**
 * Speaker-embedding inputs and outputs for the Resemblyzer GE2E encoder: which samples of a
 * window belong to one local speaker, how they are cut into the encoder's partial utterances,
 * and how the result is stored.
 */
import { FRAME_SPAN_SAMPLES, FRAME_STEP_SAMPLES } from './segmentation.js';
import { SAMPLE_RATE } from '../../audio.js';

/** Resemblyzer's GE2E writes 256 values; other encoders differ (CAM++: 192): the model decides. */
export const EMBEDDING_DIM = 256;
/** GE2E was trained on 1.6 s partial utterances; Resemblyzer averages partials with 50% overlap. */
export const PARTIAL_SAMPLES = Math.round(1.6 * SAMPLE_RATE);
const PARTIAL_HOP = PARTIAL_SAMPLES / 2;

/** First sample a frame stands for: frames tile the audio by their middles, one step each. */
const FRAME_OWN_OFFSET = Math.round((FRAME_SPAN_SAMPLES - FRAME_STEP_SAMPLES) / 2);

/** The window's samples covered by the frame runs, as [start, end) sample spans. */
function runSpans(windowLength: number, runs: Uint16Array): [number, number][] {
  const spans: [number, number][] = [];
  for (let i = 0; i < runs.length; i += 2) {
    const a = Math.min(windowLength, runs[i] * FRAME_STEP_SAMPLES + FRAME_OWN_OFFSET);
    const b = Math.min(windowLength, runs[i + 1] * FRAME_STEP_SAMPLES + FRAME_OWN_OFFSET);
    if (b > a) spans.push([a, b]);
  }
  return spans;
}

/** The window's samples covered by the frame runs, joined end to end. */
export function speakerAudio(windowPcm: Float32Array, runs: Uint16Array): Float32Array {
  const spans = runSpans(windowPcm.length, runs);
  const out = new Float32Array(spans.reduce((n, [a, b]) => n + b - a, 0));
  let at = 0;
  for (const [a, b] of spans) {
    out.set(windowPcm.subarray(a, b), at);
    at += b - a;
  }
  return out;
}

/**
 * The window frame that sample `at` of speakerAudio(window, runs) came from: where a partial
 * cut from the joined audio was spoken.
 */
export function joinedToFrame(windowLength: number, runs: Uint16Array, at: number): number {
  const spans = runSpans(windowLength, runs);
  let rest = at;
  for (const [a, b] of spans) {
    if (rest < b - a) return Math.floor((a + rest - FRAME_OWN_OFFSET) / FRAME_STEP_SAMPLES);
    rest -= b - a;
  }
  // Past the end (the last partial's last sample): the last run's end.
  const end = spans.length > 0 ? spans[spans.length - 1][1] : 0;
  return Math.floor((end - FRAME_OWN_OFFSET) / FRAME_STEP_SAMPLES);
}

export interface PartialBatch {
  /** `count` rows of `length` samples, row-major, as the encoder's [batch, time] input. */
  data: Float32Array;
  count: number;
  length: number;
  /** Where each row starts in the audio it was cut from (samples). */
  starts: number[];
}

/**
 * Equal-length partials so they run as one batch: 1.6 s every 0.8 s, the last one flush with the
 * end; audio shorter than a partial is one shorter row (zero padding would read as silence).
 * At most `max` partials, spread evenly over the audio: the encoder's cost is linear in the
 * partials, and with overlapping windows the same speech is embedded again in the next window.
 */
export function partials(audio: Float32Array, max = Infinity): PartialBatch {
  if (audio.length <= PARTIAL_SAMPLES) return { data: audio.slice(), count: 1, length: audio.length, starts: [0] };
  let starts: number[] = [];
  for (let s = 0; s + PARTIAL_SAMPLES <= audio.length; s += PARTIAL_HOP) starts.push(s);
  const last = audio.length - PARTIAL_SAMPLES;
  if (starts[starts.length - 1] < last) starts.push(last);
  if (starts.length > max) {
    const n = Math.max(1, Math.floor(max));
    starts = Array.from({ length: n }, (_, i) => (n === 1 ? Math.floor(last / 2) : Math.round((i * last) / (n - 1))));
  }
  const data = new Float32Array(starts.length * PARTIAL_SAMPLES);
  starts.forEach((s, i) => data.set(audio.subarray(s, s + PARTIAL_SAMPLES), i * PARTIAL_SAMPLES));
  return { data, count: starts.length, length: PARTIAL_SAMPLES, starts };
}

/** Mean of the partials' embeddings, L2-normalised (Resemblyzer's utterance embedding). */
export function meanEmbedding(rows: Float32Array, count: number): Float32Array {
  const dim = rows.length / count;
  const out = new Float32Array(dim);
  for (let r = 0; r < count; r++) {
    for (let d = 0; d < dim; d++) out[d] += rows[r * dim + d];
  }
  return normalize(out);
}

export function normalize(v: Float32Array): Float32Array {
  let n = 0;
  for (let i = 0; i < v.length; i++) n += v[i] * v[i];
  n = Math.sqrt(n);
  if (n > 0) for (let i = 0; i < v.length; i++) v[i] /= n;
  return v;
}

/**
 * Unit vectors kept as int8 (a quarter of float32): a long file keeps one embedding per window
 * and local speaker until the end. The rounding changes cosine similarities by less than 1e-3,
 * well below the margins between speakers that clustering works with (0.05 and more).
 */
export function quantize(unit: Float32Array): Int8Array {
  let max = 0;
  for (let i = 0; i < unit.length; i++) max = Math.max(max, Math.abs(unit[i]));
  const scale = max > 0 ? 127 / max : 0;
  const q = new Int8Array(unit.length);
  for (let i = 0; i < unit.length; i++) q[i] = Math.round(unit[i] * scale);
  return q;
}

export function dequantize(q: Int8Array): Float32Array {
  return normalize(Float32Array.from(q));
}
