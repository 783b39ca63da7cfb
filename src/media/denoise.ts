/**
 * CLOVA's `noiseFiltering` (long-form parameter, default on: "denoise before recognition").
 *
 * Decision: a documented no-op. Sori accepts, validates and echoes the flag, but no filter is
 * applied, because no denoiser available offline made recognition better.
 *
 * Measured 2026-11 with
 *   SORI_MODELS_DIR=/work/shared/models node --import tsx bench/noise.ts --lang ko
 *     (all candidates for the first 12 clips, then
 *      --filters afftdn-tn,hp-afftdn-tn,afftdn-nr30,anlmdn,band for all 46)
 *   SORI_MODELS_DIR=/work/shared/models node --import tsx bench/noise.ts --lang en --filters afftdn-tn,anlmdn
 * Setup: quick set, whisper-base int8, beam 5, temperature fallback on, 2 threads. Each clip is
 * also mixed with sox white, pink and brown noise at 5 dB SNR (whole-clip speech power vs
 * noise power). Every condition goes through the server's decode with the filter's `-af`.
 * "noisy" is pooled over the three colours. Deltas are in points, with the 95% paired-bootstrap
 * interval over clips.
 *
 *   ko (46 clips, CER)            clean 9.66%       noisy 24.02%
 *     afftdn=nr=12:nf=-30:tn=1    clean -0.1 [-1.0,+0.8]   noisy -0.8 [-2.2,+0.5]  (white -0.8, pink -2.0, brown +0.4)
 *     highpass=f=80,afftdn=...    clean -0.3 [-1.4,+1.1]   noisy +0.4 [-1.4,+2.0]
 *     afftdn=nr=30:nf=-25:tn=1    clean +0.2 [-0.9,+1.4]   noisy +1.4 [-0.8,+3.4]  (brown +4.9)
 *     highpass=f=80,lowpass=f=6000 clean +0.0 [-0.8,+0.7]  noisy +0.3 [-1.2,+1.5]
 *     anlmdn (default strength; changes the waveform by ~-59 dB, i.e. a placebo)
 *                                 clean -0.1 [-1.2,+1.1]   noisy -0.3 [-1.8,+1.1]
 *     afftdn (defaults), anlmdn=s=10: dropped after 12 clips, noisy +1.6 points each
 *   en (18 clips, WER)            clean 9.36%       noisy 24.05%
 *     afftdn=nr=12:nf=-30:tn=1    clean +1.7 [-0.3,+4.1]   noisy +1.3 [-0.7,+4.0]
 *     anlmdn (placebo)            clean +0.0 [-1.1,+0.7]   noisy +0.3 [-2.1,+3.3]
 *
 * The product rule keeps a denoiser only if the 5 dB mixes get better AND clean audio gets
 * worse by no more than 0.5 point. On Korean only afftdn=nr=12:nf=-30:tn=1 met it, and only by
 * -0.8 point. That was the best of seven candidates tried on the same clips, it is inside the
 * interval, and it is the same size as the change the placebo made. On English, which it was
 * not picked on, it made both clean and noisy audio worse (+1.7 / +1.3). Whisper was trained
 * on noisy audio and copes with noise better than with the artefacts of spectral subtraction.
 * ffmpeg's arnndn (RNNoise) needs a model file; none is on the machine, and none was downloaded.
 * No real background recordings were found on the machine either, so only synthetic noise was used.
 * afftdn also delays its output by 400 samples (25 ms at 16 kHz, ffmpeg 5.1). That would shift
 * word timings if the filter were ever turned on.
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
