/**
 * Forbidden-word masking: every occurrence becomes `*` of the same length, matched regardless
 * of case and of spacing inside the word ("나쁜말" also catches "나쁜 말"), so the original never
 * leaks through a spacing variant.
 */

export function parseForbiddens(raw: string | readonly string[] | undefined): string[] {
  const list = typeof raw === 'string' ? raw.split(',') : raw ?? [];
  return [...new Set(list.map((w) => w.trim()).filter((w) => w !== ''))];
}

/**
 * A character as matching sees it: Unicode simple case folding, approximated with the upper-
 * then lower-case mapping where both are one character ("ſ" and "s", "ς" and "σ" match), the
 * character itself where a mapping would change its length ("ß", "İ"); '' for whitespace.
 */
function foldChar(ch: string): string {
  if (/\s/u.test(ch)) return '';
  const upper = ch.toUpperCase();
  if (upper.length !== ch.length) return ch.toLowerCase().length === ch.length ? ch.toLowerCase() : ch;
  const lower = upper.toLowerCase();
  return lower.length === ch.length ? lower : ch;
}

/** foldChar, remembered: texts and word lists repeat few distinct characters. */
function folder(): (ch: string) => string {
  const seen = new Map<string, string>();
  return (ch) => {
    let f = seen.get(ch);
    if (f === undefined) {
      f = foldChar(ch);
      seen.set(ch, f);
    }
    return f;
  };
}

/**
 * Every occurrence of a forbidden word in a text, masked. A word matches regardless of case and of
 * spacing between its characters; at each place the longest word wins, and matches do not
 * overlap. The words are kept in a set and the text is walked character by character (no
 * regular expression built from the words: a long list made one too big to compile, which
 * stalled the process for seconds and past some size aborted it).
 */
export function forbiddenMatcher(words: readonly string[]): ((text: string) => string) | undefined {
  const fold = folder();
  const set = new Set<string>();
  /** The words' lengths in characters: a candidate of another length is not looked up. */
  const lengths = new Set<number>();
  let longest = 0;
  for (const w of words) {
    const chars: string[] = [];
    for (const ch of w) {
      const f = fold(ch);
      if (f !== '') chars.push(f);
    }
    if (chars.length === 0) continue;
    set.add(chars.join(''));
    lengths.add(chars.length);
    longest = Math.max(longest, chars.length);
  }
  if (set.size === 0) return undefined;
  return (text: string) => {
    const chars = [...text];
    // The text's non-space characters, folded, and where each one is in `chars`.
    const folded: string[] = [];
    const at: number[] = [];
    chars.forEach((ch, i) => {
      const f = fold(ch);
      if (f === '') return;
      folded.push(f);
      at.push(i);
    });
    let masked = false;
    for (let i = 0; i < folded.length; ) {
      let end = -1;
      let candidate = '';
      for (let j = i; j < folded.length && j - i < longest; j++) {
        candidate += folded[j];
        if (lengths.has(j - i + 1) && set.has(candidate)) end = j;
      }
      if (end < 0) {
        i++;
        continue;
      }
      for (let j = i; j <= end; j++) chars[at[j]] = '*';
      masked = true;
      i = end + 1;
    }
    return masked ? chars.join('') : text;
  };
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
