/**
 * pyannote segmentation-3.0 geometry and powerset decoding.
 *
 * The model sees 10 s of 16 kHz audio and scores 589 frames over 7 powerset classes
 * (none, s1, s2, s3, s1+s2, s1+s3, s2+s3). Local speakers s1..s3 are only meaningful inside one
 * window: s1 of one window and s1 of the next are unrelated until clustering says otherwise.
 */
import { SAMPLE_RATE } from '../../audio.js';

export const WINDOW_SAMPLES = 10 * SAMPLE_RATE;
export const FRAMES_PER_WINDOW = 589;
/** Samples between two frame starts (SincNet stride times pooling), from pyannote's receptive field. */
export const FRAME_STEP_SAMPLES = 270;
/** Samples one frame sees; its middle is the instant the frame stands for. */
export const FRAME_SPAN_SAMPLES = 991;
export const LOCAL_SPEAKERS = 3;
const CLASSES = 7;

/** Bit set of active local speakers for each powerset class. */
const POWERSET: readonly number[] = [0b000, 0b001, 0b010, 0b100, 0b011, 0b101, 0b110];

/** Middle of global frame `g`, in samples from the start of the audio. */
export function frameMiddleSample(g: number): number {
  return g * FRAME_STEP_SAMPLES + FRAME_SPAN_SAMPLES / 2;
}

/**
 * Window step rounded to whole frames, so that every window's frames land exactly on the global
 * frame grid (pyannote rounds each chunk to the closest frame instead; same thing, no drift).
 */
export function stepFrames(stepSeconds: number): number {
  return Math.max(1, Math.round((stepSeconds * SAMPLE_RATE) / FRAME_STEP_SAMPLES));
}

/**
 * Hard powerset decoding: the most likely class per frame, expanded to per-speaker activity.
 * Returns one bit set per frame (bit k = local speaker k active). Hard rather than soft because
 * the powerset classes were trained as mutually exclusive; summing probabilities per speaker
 * would turn a confident "s1 alone" into partial overlap.
 */
export function decodePowerset(logProbs: Float32Array, frames = FRAMES_PER_WINDOW): Uint8Array {
  if (logProbs.length < frames * CLASSES) throw new Error(`segmentation output too short: ${logProbs.length}`);
  const out = new Uint8Array(frames);
  for (let f = 0; f < frames; f++) {
    const o = f * CLASSES;
    let best = 0;
    for (let c = 1; c < CLASSES; c++) if (logProbs[o + c] > logProbs[o + best]) best = c;
    out[f] = POWERSET[best];
  }
  return out;
}

/**
 * Frames where local speaker `k` is active, as [start, end) frame runs. Stored instead of the
 * 589 raw frames because runs are a few numbers per window, which keeps hours of windows small.
 */
export function speakerRuns(bits: Uint8Array, k: number, onlyAlone = false): Uint16Array {
  const runs: number[] = [];
  let start = -1;
  const mask = 1 << k;
  for (let f = 0; f <= bits.length; f++) {
    const on = f < bits.length && (bits[f] & mask) !== 0 && (!onlyAlone || bits[f] === mask);
    if (on && start < 0) start = f;
    else if (!on && start >= 0) {
      runs.push(start, f);
      start = -1;
    }
  }
  return Uint16Array.from(runs);
}

export function runsLength(runs: Uint16Array): number {
  let n = 0;
  for (let i = 0; i < runs.length; i += 2) n += runs[i + 1] - runs[i];
  return n;
}

