/**
 * Tuning and evaluation halves of a labelled set, by a hash of the file name (FNV-1a, even =
 * tuning): stable as files are added, and independent of any figure measured on them.
 */
export function fnv1a(text: string): number {
  let h = 2166136261;
  for (const ch of text) h = Math.imul(h ^ (ch.codePointAt(0) ?? 0), 16777619);
  return h >>> 0;
}

export type Half = 'tuning' | 'evaluation';

/** The half a file belongs to; the name is taken without a leading '+' (the fetched-data mark). */
export const half = (file: string): Half => (fnv1a(file.replace(/^\+/u, '')) % 2 === 0 ? 'tuning' : 'evaluation');
