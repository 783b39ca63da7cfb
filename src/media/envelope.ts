/**
 * CLOVA's `usr_graph`: "int arrays, positive, 50 values per second of audio: an amplitude
 * envelope". Clients draw it as a waveform, so each value is the peak absolute amplitude of
 * its frame (peaks, unlike RMS, show short loud syllables), on the 16-bit sample scale
 * 1..32767 that audio people read directly. Silence is 1 rather than 0 because the contract
 * says positive.
 */

// The PCM this module receives is always what decode.ts produces.
import { SAMPLE_RATE } from '../audio.js';

const FULL_SCALE = 32767;
/** CLOVA's graphs (`usr_graph`, `ref_graph`): one value per 20 ms. */
export const GRAPH_VALUES_PER_SECOND = 50;

/**
 * One value per 1/valuesPerSecond of audio (20 ms frames at the default 50); a last partial
 * frame still gets a value, so the length is ceil(duration * valuesPerSecond).
 */
export function amplitudeEnvelope(pcm: Float32Array, valuesPerSecond = GRAPH_VALUES_PER_SECOND): number[] {
  if (!Number.isFinite(valuesPerSecond) || valuesPerSecond <= 0 || valuesPerSecond > SAMPLE_RATE) {
    throw new RangeError(`valuesPerSecond must be in (0, ${SAMPLE_RATE}], got ${valuesPerSecond}`);
  }
  const samplesPerValue = SAMPLE_RATE / valuesPerSecond;
  const count = Math.ceil(pcm.length / samplesPerValue);
  const envelope = new Array<number>(count);
  for (let i = 0; i < count; i++) {
    // Rounded boundaries keep non-integer frame sizes (e.g. 30 values/s) from drifting.
    const start = Math.round(i * samplesPerValue);
    const end = Math.min(pcm.length, Math.round((i + 1) * samplesPerValue));
    let peak = 0;
    for (let j = start; j < end; j++) {
      const magnitude = Math.abs(pcm[j]);
      if (magnitude > peak) peak = magnitude;
    }
    envelope[i] = Math.max(1, Math.min(FULL_SCALE, Math.round(peak * FULL_SCALE)));
  }
  return envelope;
}
