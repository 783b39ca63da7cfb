/**
 * Forbidden-word masking: every occurrence becomes `*` of the same length, matched regardless
 * of case and of spacing inside the word ("나쁜말" also catches "나쁜 말"), so the original never
 * leaks through a spacing variant.
 */

export function parseForbiddens(raw: string | readonly string[] | undefined): string[] {
  const list = typeof raw === 'string' ? raw.split(',') : raw ?? [];
  return [...new Set(list.map((w) => w.trim()).filter((w) => w !== ''))];
}

function escape(ch: string): string {
  return ch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function forbiddenMatcher(words: readonly string[]): ((text: string) => string) | undefined {
  if (words.length === 0) return undefined;
  // Longest first, so a longer forbidden word is masked whole rather than in part.
  const patterns = [...words]
    .sort((a, b) => b.length - a.length)
    .map((w) => [...w.replace(/\s+/g, '')].map(escape).join('\\s*'));
  const re = new RegExp(patterns.join('|'), 'giu');
  return (text: string) => text.replace(re, (m) => m.replace(/\S/gu, '*'));
}
