/**
 * Options at the module's edge, validated with zod: a diarizer's tuning (set once, defaults
 * tuned on the test recordings, see DEFAULT_TUNING) and a session's speaker-count bounds.
 */
import { z } from 'zod';
import type { SpeakerBounds } from './clustering.js';

/** CLOVA's limit for speakerCountMin/Max, and the most speakers a session will ever report. */
export const MAX_SPEAKERS = 30;

/**
 * Defaults tuned with bench/diarization.ts on the six RTTM-labelled test recordings (5 minutes in
 * all): values in the middle of plateaus, not at sharp optima (mean DER 17.1%, RTF 0.028).
 * Why: docs/decisions.md#speaker-diarization-tuning (the trade-offs measured for each setting).
 */
const tuningSchema = z.object({
  /** onnxruntime threads per model run, in the worker. */
  threads: z.number().int().min(1).max(64).default(1),
  /** Seconds between windows. 2 s: every frame voted on by 5 windows; the step sets the cost (0.5 s: 5x). */
  stepSeconds: z.number().min(0.25).max(10).default(2),
  /** Shorter speech makes GE2E embeddings too noisy to cluster (1.6 s partials are its unit). */
  minEmbeddingSeconds: z.number().min(0.1).max(10).default(0.6),
  overlapFallback: z.boolean().default(true),
  /** 4: same DER as no limit on the test set, a third of the encoder time on dense monologue. */
  maxPartials: z.number().int().min(1).max(100).default(4),
  /**
   * Embed every n-th window's local speakers (and the last window's); the others take clusters
   * from overlapping embedded windows by co-activity (stitching). 2: half the encoder time for a
   * mean DER within a point; 3 merged two speakers of one meeting.
   */
  embedEvery: z.number().int().min(1).max(20).default(2),
  /**
   * embedEvery for sessions told a minimum speaker count above one: a forced count needs the
   * people who said little to have embeddings of their own, or forcing it splits a talker
   * (CAM++, true counts given, API mean DER: every third window 26.7%, every other 23.8%).
   */
  forcedEmbedEvery: z.number().int().min(1).max(20).default(2),
  /**
   * Least agreement (co-active frames over the speaker's frames seen by embedded windows) for a
   * local speaker without embedding to take a neighbour's cluster; above 1 turns stitching off.
   * 0.2-0.4 measured the same; 0.3 in the middle.
   */
  minStitchOverlap: z.number().min(0).max(2).default(0.3),
  /** See AnalysisParams.splitThreshold (split.ts); above 2, local speakers are never split. */
  splitThreshold: z.number().min(0).max(3).default(3),
  /** Average linkage on cosine distance: more stable with GE2E than pyannote's centroid linkage. */
  linkage: z.enum(['centroid', 'average']).default('average'),
  /** Cosine distance (average linkage) or Euclidean between unit means (centroid linkage). */
  threshold: z.number().positive().max(2).default(0.3),
  minClusterSize: z.number().int().min(1).max(1000).default(12),
  maxClusterEmbeddings: z.number().int().min(2).max(4000).default(2000),
  distinctInWindow: z.boolean().default(true),
  /**
   * The segmentation's "different speakers in one window" as a clustering constraint (see
   * CannotLink): GE2E's small cosine margins make a threshold alone swing between merging and
   * splitting speakers; with the constraint the count holds over a wide threshold range.
   */
  cannotLinkRatio: z.number().min(0).max(1).default(0.3),
  warmUp: z.number().min(0).max(0.4).default(0),
  /**
   * Joining same-speaker turns across short pauses and padding turns: reference annotations
   * mark turns from first to last word, pauses included, while the segmentation follows the
   * voice; these two cut missed speech on the dialogue and mixes far more than they add false
   * alarm on the meetings.
   */
  minDurationOff: z.number().min(0).max(5).default(0.8),
  minDurationOn: z.number().min(0).max(5).default(0),
  padding: z.number().min(0).max(2).default(0.25),
  /**
   * Hamming-weighted votes (see ReconstructParams.hamming): what makes a 2 s step work, since
   * without it the edge frames of the few windows decide as much as their middles.
   */
  hamming: z.boolean().default(true),
}).strict();

export type DiarizerTuning = z.output<typeof tuningSchema>;
export type DiarizerTuningInput = z.input<typeof tuningSchema>;
export const DEFAULT_TUNING: DiarizerTuning = tuningSchema.parse({});

export function parseTuning(input: unknown): DiarizerTuning {
  return tuningSchema.parse(input ?? {});
}

const count = z.number().int().refine((n) => n === -1 || (n >= 1 && n <= MAX_SPEAKERS), {
  message: `expected -1 (auto) or 1 to ${MAX_SPEAKERS}`,
});

const finishSchema = z.object({
  speakerCountMin: count.default(-1),
  speakerCountMax: count.default(-1),
}).strict().refine((o) => o.speakerCountMin === -1 || o.speakerCountMax === -1 || o.speakerCountMin <= o.speakerCountMax, {
  message: 'speakerCountMin is greater than speakerCountMax',
});

export type FinishOptions = z.input<typeof finishSchema>;

/** Speaker-count bounds, -1 meaning "any" (1 to MAX_SPEAKERS). */
export function parseFinishOptions(input: unknown): SpeakerBounds {
  const o = finishSchema.parse(input ?? {});
  return {
    min: o.speakerCountMin === -1 ? 1 : o.speakerCountMin,
    max: o.speakerCountMax === -1 ? MAX_SPEAKERS : o.speakerCountMax,
  };
}
