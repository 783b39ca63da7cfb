/**
 * Turns per-patch label scores into events, per label, in one pass and in order (so a stream
 * can emit events as they close): hysteresis (an event opens at `onset` and continues while the
 * score stays at or above `offset`), gaps up to `maxGapMs` bridged, events heard for less than
 * `minDurationMs` dropped.
 */
import { HOP, PATCH_SAMPLES } from './frontend.js';
import { SAMPLE_RATE } from '../../audio.js';
import { LABELS } from './labels.js';

export interface LabelThresholds {
  /** Score that opens an event. */
  onset: number;
  /** Score that keeps it open (at most `onset`). */
  offset: number;
  /**
   * Shortest evidence kept: from the start of the first patch at or above `offset` to the start
   * of the last one, plus one hop. One hop lets a single firing patch through. Measured on patches
   * rather than on the reported span, which the timing shifts shorten.
   */
  minDurationMs: number;
  /** Longest run of patches below `offset` that still continues the same event. */
  maxGapMs: number;
}

/** One sound event, in CLOVA's `events` shape (times in integer ms from the start of the media). */
export interface SoundEvent {
  type: string;
  label: string;
  /** Position of the label in LABELS (stable across versions). */
  labelIndex: number;
  /** The highest label score over the event's patches, 0..1. */
  confidence: number;
  startTimestamp: number;
  endTimestamp: number;
}

/**
 * Where inside its patches a sound is taken to begin and end: a patch is 0.975 s long and its
 * score says "the sound is in here", not where (values and how they were chosen: thresholds.ts).
 */
export interface PatchTiming {
  /** From the start of the first firing patch to the reported start. */
  startShiftMs: number;
  /** From the end of the last firing patch back to the reported end. */
  endShiftMs: number;
}

const PATCH_MS = (PATCH_SAMPLES / SAMPLE_RATE) * 1000;

interface Open {
  first: number;
  lastActive: number;
  peak: number;
}

export class EventTracker {
  private readonly open: (Open | null)[];
  private readonly hopMs: number;

  /** `hopFrames`: the patch hop the scores come at (patch i starts at i · hopFrames · 10 ms). */
  constructor(
    private readonly thresholds: readonly LabelThresholds[],
    private readonly timing: PatchTiming,
    hopFrames: number,
  ) {
    this.hopMs = ((hopFrames * HOP) / SAMPLE_RATE) * 1000;
    if (thresholds.length !== LABELS.length) throw new Error(`expected ${LABELS.length} label thresholds, got ${thresholds.length}`);
    this.open = thresholds.map(() => null);
  }

  /** Scores of patch `index` (patches must come in order); returns the events this closes. */
  push(index: number, scores: Float32Array): SoundEvent[] {
    const closed: SoundEvent[] = [];
    for (let l = 0; l < this.thresholds.length; l++) {
      const t = this.thresholds[l];
      const s = scores[l];
      const cur = this.open[l];
      if (cur) {
        if (s >= t.offset) {
          cur.lastActive = index;
          if (s > cur.peak) cur.peak = s;
        } else if ((index - cur.lastActive) * this.hopMs > t.maxGapMs) {
          this.close(l, Infinity, closed);
        }
      } else if (s >= t.onset) {
        this.open[l] = { first: index, lastActive: index, peak: s };
      }
    }
    return closed;
  }

  /** Closes every open event; `totalMs` (the media length) bounds their ends. */
  finish(totalMs: number): SoundEvent[] {
    const closed: SoundEvent[] = [];
    for (let l = 0; l < this.thresholds.length; l++) this.close(l, totalMs, closed);
    return closed;
  }

  private close(l: number, totalMs: number, into: SoundEvent[]): void {
    const cur = this.open[l];
    if (!cur) return;
    this.open[l] = null;
    if ((cur.lastActive - cur.first + 1) * this.hopMs < this.thresholds[l].minDurationMs - 1e-6) return;
    const start = Math.max(0, Math.min(cur.first * this.hopMs + this.timing.startShiftMs, totalMs - 1));
    // Never an empty or inverted span, whatever the shifts and the media's end.
    const end = Math.max(start + 1, Math.min(totalMs, cur.lastActive * this.hopMs + PATCH_MS - this.timing.endShiftMs));
    const label = LABELS[l].label;
    into.push({
      type: label,
      label,
      labelIndex: l,
      confidence: Math.round(cur.peak * 1e4) / 1e4,
      startTimestamp: Math.round(start),
      endTimestamp: Math.round(end),
    });
  }
}
