/**
 * From clustered window activity to global speaker turns, as pyannote's `reconstruct` +
 * `to_diarization`: every frame is seen by several overlapping windows; for each frame, the
 * number of simultaneous speakers is the windows' average count of active local speakers
 * (rounded), and that many clusters are kept, those active in the most windows.
 *
 * Streaming: windows arrive in order and a frame is final once a window starting after it
 * arrives, so only one window's worth of frames is held (a ring of FRAMES_PER_WINDOW rows).
 */
import { FRAMES_PER_WINDOW, FRAME_STEP_SAMPLES, frameMiddleSample } from './segmentation.js';
import { SAMPLE_RATE } from '../../audio.js';

export interface Turn {
  /** Seconds from the start of the audio. */
  start: number;
  end: number;
  /** 1, 2, ... in order of first appearance. */
  speaker: number;
}

export interface ReconstructParams {
  /**
   * Fraction of each window ignored at both ends when counting speakers: the model sees less
   * context there. The file's own first and last frames fall back to the untrimmed count.
   */
  warmUp: number;
  /** Same-speaker turns closer than this (s) are joined. */
  minDurationOff: number;
  /** Turns shorter than this (s) are dropped, after joining. */
  minDurationOn: number;
  /** Seconds added before and after every turn (before joining). */
  padding: number;
  /**
   * Weight window frames by a Hamming window (pyannote's aggregation option): a frame's votes
   * count more from windows that see it in their middle, with context on both sides.
   */
  hamming: boolean;
}

export interface ClusteredWindow {
  /** Frame runs [start, end) of each local speaker, window-relative. */
  runs: readonly Uint16Array[];
  /** Global cluster of each local speaker; -1 when it has none (too little speech to embed). */
  clusters: readonly number[];
}

/** Half a frame step: a frame stands for the step-long span around its middle. */
const HALF_STEP = FRAME_STEP_SAMPLES / 2;

export class Reconstructor {
  private readonly score: Float32Array;
  private readonly countSum = new Float32Array(FRAMES_PER_WINDOW);
  private readonly countN = new Float32Array(FRAMES_PER_WINDOW);
  private readonly rawSum = new Float32Array(FRAMES_PER_WINDOW);
  private readonly rawN = new Float32Array(FRAMES_PER_WINDOW);
  private readonly weight: Float32Array;
  /** First global frame not yet final. */
  private next = 0;
  private readonly open: Int32Array;
  private readonly turns: { start: number; end: number; cluster: number }[] = [];
  private readonly lastFrame: number;
  private readonly warm: number;

  /**
   * `clusters`: number of global clusters; `maxSpeakers` caps the per-frame count (pyannote does
   * the same: counting can overshoot, the caller's bound cannot); `totalSamples`: audio length.
   */
  constructor(
    private readonly stepFrames: number,
    private readonly clusters: number,
    private readonly maxSpeakers: number,
    private readonly totalSamples: number,
    private readonly params: ReconstructParams,
    /**
     * Clusters that go first wherever they have any vote: a speaker count forced above what the
     * votes show is met by giving clusters that would never win a frame the frames they were heard in.
     */
    private readonly favour: ReadonlySet<number> = new Set(),
  ) {
    this.score = new Float32Array(FRAMES_PER_WINDOW * Math.max(1, clusters));
    this.open = new Int32Array(Math.max(1, clusters)).fill(-1);
    // Frames whose middle lies inside the audio.
    this.lastFrame = Math.max(0, Math.ceil((totalSamples - frameMiddleSample(0)) / FRAME_STEP_SAMPLES));
    this.warm = Math.round(params.warmUp * FRAMES_PER_WINDOW);
    const f = FRAMES_PER_WINDOW;
    this.weight = Float32Array.from({ length: f }, (_, i) => (params.hamming ? 0.54 - 0.46 * Math.cos((2 * Math.PI * i) / (f - 1)) : 1));
  }

  /** Window `index` (windows must come in increasing order, each at most once). */
  add(index: number, w: ClusteredWindow): void {
    const start = index * this.stepFrames;
    this.finalizeUntil(start);
    const f = FRAMES_PER_WINDOW;
    const k = this.clusters;
    const active = new Uint8Array(f);
    // Several local speakers of one window in the same cluster count once (pyannote takes their max).
    const byCluster = new Map<number, Uint8Array>();
    for (let s = 0; s < w.runs.length; s++) {
      const runs = w.runs[s];
      const c = w.clusters[s];
      let mask: Uint8Array | undefined;
      if (c >= 0 && c < k) {
        mask = byCluster.get(c) ?? new Uint8Array(f);
        byCluster.set(c, mask);
      }
      for (let r = 0; r < runs.length; r += 2) {
        for (let fr = runs[r]; fr < runs[r + 1]; fr++) {
          active[fr]++;
          if (mask) mask[fr] = 1;
        }
      }
    }
    for (const [c, mask] of byCluster) {
      for (let fr = 0; fr < f; fr++) if (mask[fr]) this.score[((start + fr) % f) * k + c] += this.weight[fr];
    }
    for (let fr = 0; fr < f; fr++) {
      const slot = (start + fr) % f;
      const wt = this.weight[fr];
      this.rawSum[slot] += active[fr] * wt;
      this.rawN[slot] += wt;
      if (fr >= this.warm && fr < f - this.warm) {
        this.countSum[slot] += active[fr] * wt;
        this.countN[slot] += wt;
      }
    }
  }

  /** Clusters that have at least one turn so far. */
  get heard(): Set<number> {
    return new Set(this.turns.map((t) => t.cluster));
  }

  /** Turns of the whole audio, speakers numbered by first appearance. */
  finish(): Turn[] {
    this.finalizeUntil(this.lastFrame);
    for (let c = 0; c < this.clusters; c++) this.close(c, this.lastFrame);
    return postProcess(this.turns, this.params, this.totalSamples);
  }

  private finalizeUntil(end: number): void {
    const f = FRAMES_PER_WINDOW;
    const k = this.clusters;
    const stop = Math.min(end, this.lastFrame);
    const order = Array.from({ length: k }, (_, i) => i);
    for (; this.next < stop; this.next++) {
      const g = this.next;
      const slot = g % f;
      const n = this.countN[slot] > 0 ? this.countN[slot] : this.rawN[slot];
      const sum = this.countN[slot] > 0 ? this.countSum[slot] : this.rawSum[slot];
      const count = n > 0 ? Math.max(0, Math.min(this.maxSpeakers, Math.round(sum / n))) : 0;
      const row = slot * k;
      const rank = (c: number): number => this.score[row + c] + (this.favour.has(c) && this.score[row + c] > 0 ? 1e6 : 0);
      order.sort((a, b) => rank(b) - rank(a) || a - b);
      const on = new Uint8Array(k);
      for (let i = 0; i < count && i < k; i++) if (this.score[row + order[i]] > 0) on[order[i]] = 1;
      for (let c = 0; c < k; c++) {
        if (on[c] && this.open[c] < 0) this.open[c] = g;
        else if (!on[c] && this.open[c] >= 0) this.close(c, g);
      }
      this.score.fill(0, row, row + k);
      this.countSum[slot] = 0;
      this.countN[slot] = 0;
      this.rawSum[slot] = 0;
      this.rawN[slot] = 0;
    }
  }

  private close(c: number, endFrame: number): void {
    const s = this.open[c];
    if (s < 0) return;
    this.open[c] = -1;
    this.turns.push({
      start: Math.max(0, frameMiddleSample(s) - HALF_STEP) / SAMPLE_RATE,
      end: Math.min(this.totalSamples, frameMiddleSample(endFrame - 1) + HALF_STEP) / SAMPLE_RATE,
      cluster: c,
    });
  }
}

/** Join close same-speaker turns, drop short ones, number speakers by first appearance. */
export function postProcess(
  raw: readonly { start: number; end: number; cluster: number }[],
  p: Pick<ReconstructParams, 'minDurationOff' | 'minDurationOn' | 'padding'>,
  totalSamples: number,
): Turn[] {
  const byCluster = new Map<number, { start: number; end: number }[]>();
  const dur = totalSamples / SAMPLE_RATE;
  const padded = raw.map((t) => ({ start: Math.max(0, t.start - p.padding), end: Math.min(dur, t.end + p.padding), cluster: t.cluster }));
  for (const t of padded.sort((a, b) => a.start - b.start)) {
    const list = byCluster.get(t.cluster) ?? [];
    const last = list[list.length - 1];
    if (last && t.start - last.end < p.minDurationOff) last.end = Math.max(last.end, t.end);
    else list.push({ start: t.start, end: t.end });
    byCluster.set(t.cluster, list);
  }
  const kept: { start: number; end: number; cluster: number }[] = [];
  for (const [cluster, list] of byCluster) {
    for (const t of list) if (t.end - t.start >= p.minDurationOn) kept.push({ ...t, cluster });
  }
  kept.sort((a, b) => a.start - b.start || a.cluster - b.cluster);
  const names = new Map<number, number>();
  return kept.map((t) => {
    if (!names.has(t.cluster)) names.set(t.cluster, names.size + 1);
    return { start: round3(t.start), end: round3(Math.min(dur, t.end)), speaker: names.get(t.cluster) as number };
  });
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
