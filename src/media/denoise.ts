/**
 * CLOVA's `noiseFiltering` (long-form parameter, default on: "denoise before recognition").
 *
 * Decision: a documented no-op. Sori accepts, validates and echoes the flag, but no filter is
 * applied, because no denoiser available offline made recognition better.
 * Why: docs/decisions.md#noise-filtering (bench/noise.ts figures, and what to check before enabling one).
 */

export interface DenoiseDecision {
  enabled: boolean;
  filter: string | undefined;
  reason: string;
}

export const DENOISE: DenoiseDecision = {
  enabled: false,
  filter: undefined,
  reason:
    'no-op by measurement (bench/noise.ts): no offline denoiser improved recognition at 5 dB SNR without ' +
    'hurting clean audio; the best on Korean (afftdn=nr=12:nf=-30:tn=1, noisy CER -0.8, within noise) ' +
    'made English worse (clean WER +1.7, noisy +1.3)',
};

/**
 * The candidate that came closest, kept so that the test can show the rejection was of a filter
 * that really runs and really removes noise, not of a silently broken chain.
 */
export const MEASURED_BEST_FILTER = 'afftdn=nr=12:nf=-30:tn=1';

/** `-af <filter>` for ffmpeg's output options (before the PCM output args); [] for none. */
export function ffmpegFilterArgs(filter: string | undefined): string[] {
  return filter === undefined || filter.trim() === '' ? [] : ['-af', filter];
}

/**
 * Extra ffmpeg output options for a request's `noiseFiltering` value. Splice them into the
 * decode's arguments after the input options and before PCM_OUTPUT_ARGS. While DENOISE is
 * disabled this is always [], whatever the request says.
 */
export function denoiseArgs(enabled: boolean): string[] {
  return enabled && DENOISE.enabled ? ffmpegFilterArgs(DENOISE.filter) : [];
}
