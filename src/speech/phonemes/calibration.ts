/**
 * Raw goodness-of-pronunciation scores (log posterior margins, see alignment.ts) mapped to 0-100.
 * Provisional: a logistic centred at 0 (the target phoneme as likely as its best competitor).
 */
const SCALE = 1.5;

export function gopToPercent(gop: number): number {
  if (!Number.isFinite(gop)) return 0;
  return 100 / (1 + Math.exp(-gop / SCALE));
}
