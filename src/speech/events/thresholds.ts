/**
 * Decision thresholds per label, the patch hop and the patch timing: the tuned numbers.
 * Tuned with bench/events.ts on Japanese/Chinese mixes, reported on Korean/English ones.
 * The model's scores are quantised to levels sigmoid(0.7565 · k) (…, 0.046, 0.094, 0.18, 0.32, …),
 * so a threshold sits between two levels: 0.07 means "0.094 or more".
 * Why: docs/decisions.md#sound-event-thresholds (method and the figures behind each value).
 */
import { HOP } from './frontend.js';
import { SAMPLE_RATE } from '../../audio.js';
import { LABELS } from './labels.js';
import type { LabelThresholds, PatchTiming } from './tracker.js';

/** 0.24 s between patches (YAMNet's own 0.48 s): most of 16's onset gain at two thirds of its cost. */
export const DEFAULT_PATCH_HOP_FRAMES = 24;
const HOP_MS = ((DEFAULT_PATCH_HOP_FRAMES * HOP) / SAMPLE_RATE) * 1000;

/**
 * An event starts 0.36 s into its first firing patch (0.975 s long) and ends 0.36 s before the end
 * of its last: the shift that put the most onsets and ends within 0.5 s; one value for all labels.
 */
export const DEFAULT_TIMING: PatchTiming = { startShiftMs: 360, endShiftMs: 360 };

/**
 * Labels checked on the tuning mixes: one firing patch is enough (speech never came within two
 * levels of their thresholds); gaps up to 0.5 s are bridged, so a beep train stays one event.
 */
const CHECKED: Omit<LabelThresholds, 'onset' | 'offset'> = { minDurationMs: HOP_MS, maxGapMs: 500 };

/**
 * Labels that could not be checked (no recordings to tune on): they open only two levels above
 * the highest speech score seen (0.68 to open, 0.5 to continue), and need two patches.
 */
const UNCHECKED: LabelThresholds = { onset: 0.6, offset: 0.4, minDurationMs: 2 * HOP_MS, maxGapMs: 500 };

const PER_LABEL: Record<string, LabelThresholds> = {
  // noise, beep, siren open at 0.094, two or more levels over their highest score on tuning speech;
  // music at 0.32 (at 0.18 it fired on another label's mix).
  // Noise and beep need two patches: one let single-patch blips through on speech-only clips.
  noise: { onset: 0.07, offset: 0.07, ...CHECKED, minDurationMs: 2 * HOP_MS },
  beep: { onset: 0.07, offset: 0.07, ...CHECKED, minDurationMs: 2 * HOP_MS },
  siren: { onset: 0.07, offset: 0.07, ...CHECKED },
  music: { onset: 0.25, offset: 0.07, ...CHECKED },
};

export const DEFAULT_THRESHOLDS: readonly LabelThresholds[] = LABELS.map((l) => PER_LABEL[l.label] ?? UNCHECKED);
