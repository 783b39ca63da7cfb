/**
 * The one audio format inside Sori: mono float32 PCM in [-1, 1] at 16 kHz. media/ decodes every
 * input to it; Whisper, Silero VAD, the diarization models and YAMNet all take it as is.
 */
export const SAMPLE_RATE = 16_000;

/** A sample count (or offset) at SAMPLE_RATE as whole milliseconds, as CLOVA's bodies give times. */
export function samplesToMs(samples: number): number {
  return Math.round((samples / SAMPLE_RATE) * 1000);
}
