/**
 * CLOVA's `ref_graph` (issue 16): "the envelope (50 values per second, non-negative integers, 0 in
 * silence) of a standard pronunciation of the target, made with a TTS voice and aligned in time to
 * the user's speech, so both arrays have the same length and one scale".
 *
 * Alignment here is a linear stretch of the reference's speech part (first to last non-silent
 * value) onto the user's speech part, not DTW. Why: an amplitude envelope carries almost no
 * phonetic content, so DTW between two speakers' envelopes would match loudness bumps rather than
 * sounds, and it would bend the reference into the user's rhythm, hiding exactly the differences
 * (a syllable too long, a pause too many) the graph is there to show. A linear stretch keeps the
 * reference's own timing while starting and ending it with the user's speech.
 *
 * Scale: both inputs are `amplitudeEnvelope` peaks on the 16-bit scale, but a TTS voice and a
 * phone microphone are not equally loud, so the reference is rescaled to the user's speech peak.
 */

export interface AlignGraphOptions {
  /**
   * A value is speech when it is at least this fraction of its envelope's peak (default 0.1,
   * i.e. -20 dB). Applied to each envelope separately.
   */
  silenceFraction?: number;
}

/** Index of the first and last value >= threshold, or undefined when there is none. */
function speechSpan(envelope: readonly number[], threshold: number): [number, number] | undefined {
  let first = -1;
  let last = -1;
  for (let i = 0; i < envelope.length; i++) {
    if (envelope[i] >= threshold) {
      if (first < 0) first = i;
      last = i;
    }
  }
  return first < 0 ? undefined : [first, last];
}

function peakOf(envelope: readonly number[]): number {
  let peak = 0;
  for (const v of envelope) if (v > peak) peak = v;
  return peak;
}

/**
 * The reference envelope stretched in time to exactly `user.length` values: its speech span lies
 * over the user's speech span, everything outside is 0, and reference values below its silence
 * threshold are 0 too. Each output value is the maximum of the reference values its time slot
 * covers (so compressing keeps short peaks), scaled so the reference peak equals the user's peak,
 * rounded to a non-negative integer. All zeros when either envelope has no speech.
 */
export function alignReferenceGraph(reference: readonly number[], user: readonly number[], opts: AlignGraphOptions = {}): number[] {
  const silenceFraction = opts.silenceFraction ?? 0.1;
  if (!(silenceFraction > 0 && silenceFraction <= 1)) {
    throw new RangeError(`silenceFraction must be in (0, 1], got ${silenceFraction}`);
  }
  const out = new Array<number>(user.length).fill(0);
  const refPeak = peakOf(reference);
  const userPeak = peakOf(user);
  // 1 is amplitudeEnvelope's value for digital silence: an envelope that never rises above it has no speech.
  if (refPeak <= 1 || userPeak <= 1) return out;
  const refThreshold = refPeak * silenceFraction;
  const refSpan = speechSpan(reference, refThreshold);
  const userSpan = speechSpan(user, userPeak * silenceFraction);
  if (!refSpan || !userSpan) return out;

  const [r0, r1] = refSpan;
  const [u0, u1] = userSpan;
  const refFrames = r1 - r0 + 1;
  const userFrames = u1 - u0 + 1;
  const ratio = refFrames / userFrames;
  const gain = userPeak / refPeak;
  for (let i = 0; i < userFrames; i++) {
    // Output slot i covers reference time [i * ratio, (i + 1) * ratio) from the span start;
    // every reference frame overlapping it contributes (at least one frame always does).
    const from = r0 + Math.floor(i * ratio);
    // (The epsilon keeps float error in (i + 1) * ratio from reaching one frame too far.)
    const to = Math.max(from + 1, r0 + Math.ceil((i + 1) * ratio - 1e-9));
    let peak = 0;
    for (let j = from; j < Math.min(to, r1 + 1); j++) {
      if (reference[j] > peak) peak = reference[j];
    }
    out[u0 + i] = peak >= refThreshold ? Math.max(0, Math.round(peak * gain)) : 0;
  }
  return out;
}
