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

interface MaskableSegment {
  text: string;
  words: [number, number, string][];
}

/**
 * Masks a segment's text, then gives each word the masked characters at its place in that text:
 * a forbidden phrase spread over two words ("나쁜 말") is masked in both, which masking the words
 * one by one would miss.
 */
export function maskSegment<S extends MaskableSegment>(seg: S, mask: (text: string) => string): S {
  const masked = mask(seg.text);
  if (masked === seg.text) return seg;
  const aligned = masked.length === seg.text.length;
  let at = 0;
  const words = seg.words.map(([s, e, t]): [number, number, string] => {
    const i = aligned ? seg.text.indexOf(t, at) : -1;
    if (i < 0) return [s, e, mask(t)];
    at = i + t.length;
    return [s, e, masked.slice(i, i + t.length)];
  });
  return { ...seg, text: masked, words };
}
