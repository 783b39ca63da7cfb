/**
 * What a stream reads off recognised text for CLOVA's text-based end-pointing: sentence ends
 * (`usePeriodEpd`, `periodPositions`, `periodAlignIndices`) and syllable counts
 * (`syllableThreshold`).
 */

/**
 * Sentence-final marks: ASCII and full-width. A '.' between two digits ("64.5") is a decimal
 * point, not a sentence end.
 */
const MARKS = new Set(['.', '?', '!', '。', '？', '！']);

/** Character offsets in `text` of every sentence-final mark. */
export function periodPositions(text: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    if (!MARKS.has(text[i])) continue;
    if (text[i] === '.' && /\d/.test(text[i - 1] ?? '') && /\d/.test(text[i + 1] ?? '')) continue;
    out.push(i);
  }
  return out;
}

/** True when the text, trailing spaces and closing quotes aside, ends a sentence. */
export function endsSentence(text: string): boolean {
  const t = text.replace(/[\s"'”’」』)）]+$/u, '');
  const positions = periodPositions(t);
  return positions.length > 0 && positions[positions.length - 1] === t.length - 1;
}

/**
 * For each position, the index of the word (in `words`, in order, as they appear in `text`)
 * that holds it; -1 where no word does (the words were masked or merged differently).
 */
export function periodAlignIndices(text: string, words: readonly string[], positions: readonly number[]): number[] {
  const spans: Array<[number, number]> = [];
  let cursor = 0;
  for (const w of words) {
    const at = w === '' ? -1 : text.indexOf(w, cursor);
    if (at < 0) {
      spans.push([-1, -1]);
      continue;
    }
    spans.push([at, at + w.length]);
    cursor = at + w.length;
  }
  return positions.map((p) => {
    const i = spans.findIndex(([s, e]) => p >= s && p < e);
    if (i >= 0) return i;
    // A mark written as its own token after a word belongs to that word.
    let last = -1;
    spans.forEach(([, e], k) => {
      if (e >= 0 && e <= p && /^\s*$/u.test(text.slice(e, p))) last = k;
    });
    return last;
  });
}

/**
 * Syllables spoken, as CLOVA counts them for `syllableThreshold`: one per Hangul syllable, kana
 * or CJK ideograph, and one per vowel group of a Latin-script word (at least one a word); digits
 * count one per digit. Punctuation and spaces count nothing.
 */
export function countSyllables(text: string): number {
  let n = 0;
  for (const word of text.normalize('NFC').split(/[\s\p{P}\p{S}]+/u)) {
    if (word === '') continue;
    let latin = '';
    const flush = () => {
      if (latin === '') return;
      n += Math.max(1, (latin.toLowerCase().match(/[aeiouy]+/g) ?? []).length);
      latin = '';
    };
    for (const ch of word) {
      if (/\p{Script=Latin}/u.test(ch)) {
        latin += ch;
        continue;
      }
      flush();
      if (/[\p{Script=Hangul}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Han}\p{Nd}]/u.test(ch) && ch !== 'ー') n++;
    }
    flush();
  }
  return n;
}
