/**
 * Accuracy scoring, a line-by-line port of ../shared/bench/reference.py so that Sori's figures
 * and the reference engine's figures are comparable to the last digit:
 *   - NFKC, then every Unicode punctuation (P*) or symbol (S*) character becomes a space
 *     (a space, not nothing: "don't" is two English words there, so it must be here too);
 *   - English: lower-cased, split on whitespace, scored in words (WER);
 *   - every other language: all whitespace dropped, scored in code points (CER);
 *   - zh hypotheses are converted to Simplified first (OpenCC t2s);
 *   - with a second reference (Korean `reference_spelled`), the one with the lower error RATE
 *     wins, ties going to `reference`, and its (errors, length) go into the corpus totals;
 *   - corpus rate = sum of edit distances / sum of reference lengths.
 */
import OpenCC from 'opencc-js';

export type Metric = 'wer' | 'cer';

export function metricFor(lang: string): Metric {
  return lang === 'en' ? 'wer' : 'cer';
}

// Python's str.isspace() set, which both `str.split()` and `re`'s `\s` use. JavaScript's `\s`
// differs (it has U+FEFF, lacks U+001C-U+001F and U+0085), and that would shift token counts.
const PY_WHITESPACE = '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const WHITESPACE_RUN = new RegExp(`[${PY_WHITESPACE}]+`, 'u');
const WHITESPACE_ALL = new RegExp(`[${PY_WHITESPACE}]+`, 'gu');
const PUNCT_OR_SYMBOL = /[\p{P}\p{S}]/gu;

/** Tokens to score: words for English, code points (not UTF-16 units) for the rest. */
export function normalise(lang: string, text: string | null | undefined): string[] {
  const t = (text ?? '').normalize('NFKC').replace(PUNCT_OR_SYMBOL, ' ');
  if (lang === 'en') return t.toLowerCase().split(WHITESPACE_RUN).filter((w) => w !== '');
  return Array.from(t.replace(WHITESPACE_ALL, ''));
}

/** Levenshtein distance over token arrays: O(n·m) time, one row of O(m) memory. */
export function editDistance(a: readonly string[], b: readonly string[]): number {
  const m = b.length;
  const row = new Uint32Array(m + 1);
  for (let j = 0; j <= m; j++) row[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0]; // row[i-1][j-1]
    row[0] = i;
    const ai = a[i - 1];
    for (let j = 1; j <= m; j++) {
      const up = row[j]; // row[i-1][j]
      const sub = diag + (ai === b[j - 1] ? 0 : 1);
      const del = up + 1;
      const ins = row[j - 1] + 1;
      row[j] = sub < del ? (sub < ins ? sub : ins) : del < ins ? del : ins;
      diag = up;
    }
  }
  return row[m];
}

let t2s: ((s: string) => string) | undefined;

/** OpenCC "t2s" (OpenCC-standard Traditional -> Simplified), as reference.py's opencc.OpenCC("t2s"). */
export function toSimplified(text: string): string {
  // Built lazily: the dictionaries take a moment and most runs score no Chinese.
  const convert = (t2s ??= OpenCC.Converter({ from: 't', to: 'cn' }));
  return convert(text);
}

/** What reference.py does to a hypothesis before normalising it. */
export function prepareHypothesis(lang: string, hypothesis: string): string {
  return lang === 'zh' ? toSimplified(hypothesis) : hypothesis;
}

export interface ClipReferences {
  lang: string;
  reference: string;
  /** Korean `numbers` clips: the same text with numbers spelled out as spoken. */
  referenceSpelled?: string | null;
}

export interface ClipScore {
  metric: Metric;
  errors: number;
  /** Reference length in tokens (words or characters). */
  length: number;
  rate: number;
  /** Which reference was scored against. */
  chosen: 'reference' | 'reference_spelled';
  /** Every reference tried, for reports that show both forms. */
  candidates: { which: 'reference' | 'reference_spelled'; errors: number; length: number; rate: number }[];
}

function rateOf(errors: number, length: number): number {
  // reference.py would divide by zero here; such a reference cannot pass its own filter
  // (non-empty) unless it is all punctuation, which no manifest entry is.
  if (length === 0) return errors === 0 ? 0 : Infinity;
  return errors / length;
}

export function scoreClip(refs: ClipReferences, hypothesis: string): ClipScore {
  const hyp = normalise(refs.lang, prepareHypothesis(refs.lang, hypothesis));
  const forms: [ClipScore['chosen'], string | null | undefined][] = [
    ['reference', refs.reference],
    ['reference_spelled', refs.referenceSpelled],
  ];
  const candidates: ClipScore['candidates'] = [];
  let best: ClipScore['candidates'][number] | undefined;
  for (const [which, text] of forms) {
    if (!text) continue; // reference.py: `if x`, so empty strings are skipped too
    const ref = normalise(refs.lang, text);
    const errors = editDistance(ref, hyp);
    const c = { which, errors, length: ref.length, rate: rateOf(errors, ref.length) };
    candidates.push(c);
    // Strictly lower rate replaces: on a tie the first form (`reference`) stays.
    if (best === undefined || c.rate < best.rate) best = c;
  }
  if (best === undefined) throw new Error('scoreClip: clip has no reference');
  return {
    metric: metricFor(refs.lang),
    errors: best.errors,
    length: best.length,
    rate: best.rate,
    chosen: best.which,
    candidates,
  };
}

export interface CorpusRate {
  lang: string;
  metric: Metric;
  clips: number;
  errors: number;
  length: number;
  rate: number;
}

/** Corpus-level rates per language: sum of errors / sum of reference lengths. */
export function corpusRates(scores: readonly { lang: string; score: ClipScore }[]): CorpusRate[] {
  const per = new Map<string, CorpusRate>();
  for (const { lang, score } of scores) {
    let p = per.get(lang);
    if (!p) {
      p = { lang, metric: metricFor(lang), clips: 0, errors: 0, length: 0, rate: 0 };
      per.set(lang, p);
    }
    p.clips += 1;
    p.errors += score.errors;
    p.length += score.length;
  }
  const out = [...per.values()].sort((x, y) => (x.lang < y.lang ? -1 : x.lang > y.lang ? 1 : 0));
  for (const p of out) p.rate = rateOf(p.errors, p.length);
  return out;
}

/** The normalisation, stated in one line for report headers. */
export const NORMALISATION_NOTE =
  'normalisation (as reference.py): NFKC; Unicode punctuation (P*) and symbols (S*) -> space; ' +
  'en: lower-cased words (WER); ko/ja/zh: characters without whitespace (CER); ' +
  'zh hypotheses -> Simplified (opencc-js t->cn = OpenCC t2s); ' +
  'ko with reference_spelled: the reference with the lower error rate counts; ' +
  'corpus rate = sum(edit distance) / sum(reference length)';
