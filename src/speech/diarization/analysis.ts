/**
 * Per-window analysis: segmentation of each 10 s window, then one embedding per local speaker.
 * Audio is consumed as it arrives and only the current window is buffered (640 KB); what is kept
 * per window is a few frame runs and at most three int8 embeddings, under 1 KB. Measured: the
 * heap grew 1.4 MB over a 12-minute recording at a 0.5 s step, so roughly 7-12 MB per hour of
 * audio (a quarter of that at the default 2 s step), against 230 MB per hour for the PCM itself.
 */
import { joinedToFrame, meanEmbedding, partials, quantize, speakerAudio, type PartialBatch } from './embedding.js';
import { divideRuns, splitPartials } from './split.js';
import type { ModelRunner } from './protocol.js';
import type { WindowResult } from './types.js';
import {
  FRAMES_PER_WINDOW, FRAME_STEP_SAMPLES, LOCAL_SPEAKERS, WINDOW_SAMPLES, decodePowerset, runsLength, speakerRuns, stepFrames,
} from './segmentation.js';
import { SAMPLE_RATE } from '../../audio.js';

export interface AnalysisParams {
  /** Seconds between window starts (rounded to whole frames). */
  stepSeconds: number;
  /** Least speech (s) of one local speaker, alone, to compute its embedding from. */
  minEmbeddingSeconds: number;
  /**
   * When a local speaker is never alone for minEmbeddingSeconds, embed all of its speech,
   * overlap included (pyannote does the same), rather than leaving it unassigned.
   */
  overlapFallback: boolean;
  /** Most 1.6 s partials per embedding (see partials()). */
  maxPartials: number;
  /**
   * Embed the local speakers of every n-th window only (and of the last one); the others get
   * their clusters from overlapping embedded windows at the end (see stitchWindows()). Windows
   * overlap by far more than a step, so the same speech would otherwise be embedded n times over.
   */
  embedEvery: number;
  /**
   * A local speaker whose partials fall into two groups further apart than this (mean cosine
   * distance) is two people (see split.ts); above 2, never split.
   */
  splitThreshold: number;
}

export class WindowAnalyzer {
  readonly windows: WindowResult[] = [];
  readonly stepFrames: number;
  private readonly stepSamples: number;
  private readonly buf = new Float32Array(WINDOW_SAMPLES);
  private bufLen = 0;
  private total = 0;
  private flushed = false;
  /**
   * The last window when it was not embedded: its audio (a copy, the buffer slides on) and
   * decoded frames, kept until the next window arrives, so that the final window of the audio
   * is always embedded. One window at most: 640 KB.
   */
  private pending: { pcm: Float32Array; bits: Uint8Array; result: WindowResult } | null = null;

  constructor(private readonly runner: ModelRunner, private readonly params: AnalysisParams) {
    this.stepFrames = stepFrames(params.stepSeconds);
    this.stepSamples = this.stepFrames * FRAME_STEP_SAMPLES;
  }

  get totalSamples(): number {
    return this.total;
  }

  /** Feeds audio; resolves once every window it completes has been analysed. */
  async push(pcm: Float32Array): Promise<void> {
    if (this.flushed) throw new Error('push after finish');
    let at = 0;
    while (at < pcm.length) {
      const n = Math.min(WINDOW_SAMPLES - this.bufLen, pcm.length - at);
      this.buf.set(pcm.subarray(at, at + n), this.bufLen);
      this.bufLen += n;
      this.total += n;
      at += n;
      if (this.bufLen === WINDOW_SAMPLES) {
        await this.analyse(this.buf);
        this.buf.copyWithin(0, this.stepSamples, WINDOW_SAMPLES);
        this.bufLen -= this.stepSamples;
      }
    }
  }

  /** Analyses the last, zero-padded window if some audio is not covered by a window yet. */
  async flush(): Promise<void> {
    if (this.flushed) return;
    this.flushed = true;
    const covered = this.windows.length > 0 ? WINDOW_SAMPLES - this.stepSamples : 0;
    if (this.bufLen > covered) {
      this.buf.fill(0, this.bufLen);
      await this.analyse(this.buf, true);
    }
    const last = this.pending;
    this.pending = null;
    if (last) await this.embed(last.pcm, last.bits, last.result);
  }

  private async analyse(window: Float32Array, last = false): Promise<void> {
    const bits = decodePowerset(await this.runner.segment(window));
    const runs: Uint16Array[] = [];
    for (let k = 0; k < LOCAL_SPEAKERS; k++) runs.push(speakerRuns(bits, k));
    const result: WindowResult = { runs, embeddings: new Array<Int8Array | null>(LOCAL_SPEAKERS).fill(null) };
    const index = this.windows.length;
    this.windows.push(result);
    this.pending = null;
    if (last || index % this.params.embedEvery === 0) await this.embed(window, bits, result);
    else this.pending = { pcm: window.slice(), bits, result };
  }

  private async embed(window: Float32Array, bits: Uint8Array, result: WindowResult): Promise<void> {
    const minFrames = Math.ceil((this.params.minEmbeddingSeconds * SAMPLE_RATE) / FRAME_STEP_SAMPLES);
    const batches: PartialBatch[] = [];
    const batchOf: number[] = [];
    const sources: Uint16Array[] = [];
    for (let k = 0; k < LOCAL_SPEAKERS; k++) {
      const all = result.runs[k];
      if (all.length === 0) continue;
      const alone = speakerRuns(bits, k, true);
      const source = runsLength(alone) >= minFrames ? alone : this.params.overlapFallback && runsLength(all) >= minFrames ? all : null;
      if (!source) continue;
      batchOf.push(k);
      sources.push(source);
      batches.push(partials(speakerAudio(window, source), this.params.maxPartials));
    }
    const out = await this.runner.embed(batches);
    out.forEach((rows, i) => {
      const k = batchOf[i];
      const b = batches[i];
      if (rows.length === 0 || rows.some((x) => !Number.isFinite(x))) return;
      const free = result.runs.findIndex((r) => r.length === 0);
      const labels = free >= 0 ? splitPartials(rows, b.count, this.params.splitThreshold) : null;
      if (labels !== null) {
        const centres = b.starts.map((s) => joinedToFrame(window.length, sources[i], s + Math.floor(b.length / 2)));
        const [mine, theirs] = divideRuns(result.runs[k], FRAMES_PER_WINDOW, centres, labels);
        if (mine.length > 0 && theirs.length > 0) {
          result.runs[k] = mine;
          result.runs[free] = theirs;
          result.embeddings[k] = quantize(groupMean(rows, b.count, labels, 0));
          result.embeddings[free] = quantize(groupMean(rows, b.count, labels, 1));
          return;
        }
      }
      result.embeddings[k] = quantize(meanEmbedding(rows, b.count));
    });
  }
}

/** Unit-length mean of the partial embeddings (rows) in `group`. */
function groupMean(rows: Float32Array, count: number, labels: Uint8Array, group: number): Float32Array {
  const dim = rows.length / count;
  const picked: number[] = [];
  labels.forEach((l, i) => {
    if (l === group) picked.push(i);
  });
  const sub = new Float32Array(picked.length * dim);
  picked.forEach((i, j) => sub.set(rows.subarray(i * dim, (i + 1) * dim), j * dim));
  return meanEmbedding(sub, picked.length);
}
