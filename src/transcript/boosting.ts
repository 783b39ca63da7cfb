/**
 * Keyword post-correction: after decoding, a stretch of the output that is close to a boosting
 * keyword but not it ("하나임이" for 하나님, "sorry" for Sori) is replaced by the keyword.
 *
 * Closeness is an edit distance over comparison symbols: Korean syllables are decomposed into
 * their jamo (a one-consonant slip is one symbol of eight, not one syllable of three, and
 * re-syllabified output such as "한아님" still lines up with "하나님"); other scripts compare
 * lower-cased characters. Spacing and punctuation are ignored inside the comparison, so
 * "하나 님" matches too. A match starts at a word start; in Korean it may end inside a word (the
 * particle after a noun stays: "하나임이" -> "하나님이"); in spaced Latin text it must end at a
 * word end; Japanese and Chinese have no spaces, so any position will do.
 *
 * The thresholds (largest distance as a share of the keyword's symbols) were measured with
 * `npm run bench:boosting`: high enough to catch near misses, low enough not to rewrite real
 * words on clips that never said the keyword.
 */
import { doubleMetaphone } from 'double-metaphone';
import { pinyin } from 'pinyin-pro';
import type { Transcript } from '../speech/engine.js';

export interface TextEdit {
  /** UTF-16 offsets into the corrected text. */
  start: number;
  end: number;
  text: string;
}

export interface KeywordCorrector {
  /** Non-overlapping edits, in text order. */
  edits(text: string): TextEdit[];
  apply(text: string): string;
}

export interface CorrectorOptions {
  /** Largest edit distance as a share of the keyword's comparison symbols. */
  threshold?: number;
  /** English: also match words that sound like the keyword (phoneticMatches); default on. */
  phonetic?: boolean;
}

/** Measured per language (see the module comment); others get the Latin-script value. */
export const CORRECTION_THRESHOLDS: Readonly<Record<string, number>> = { ko: 0.25, en: 0.15, ja: 0.25, zh: 0.25 };
// English words one letter apart are usually other words ("heart"/"hearts", "very"/"every"):
// one edit only from seven letters on.
const DEFAULT_THRESHOLD = 0.15;
/**
 * Keywords shorter than this (in comparison symbols) are only ever matched exactly: one edit in
 * four jamo ("차마" for 남아, "같아" for 같다) is another word far more often than a near miss.
 * A Japanese or Chinese character says more than a jamo: four of them may take one edit.
 */
const MIN_FUZZY_SYMBOLS = 5;
const MIN_FUZZY_CJK_CHARS = 4;
/**
 * English phonetic matching (phoneticMatchAt), tuned on the tune half of bench:boosting: keywords
 * of five letters or more; with four letters and a letter share of 0.5 "for" became four and
 * "there" three on control clips, and any one-sound substitution turned "hearts" into carrots.
 */
const MIN_PHONETIC_LETTERS = 5;
const PHONETIC_SAME_CODE_LETTER_SHARE = 1 / 3;
const PHONETIC_MAX_LETTER_SHARE = 0.6;

const HANGUL_FIRST = 0xac00;
const HANGUL_LAST = 0xd7a3;

const LEADS = [...'ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ'];
const TAILS = ['', ...'ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ'];
const SILENT_LEAD = 11; // ㅇ at the start of a syllable is not pronounced

/**
 * Comparison symbols of one character: jamo for a Hangul syllable, else the lower-cased
 * character. Leading and trailing consonants share one symbol and the silent leading ㅇ has
 * none, so a consonant moving to the next syllable ("한아님" for 하나님) costs nothing.
 */
export function symbolsOf(ch: string): string[] {
  const c = ch.codePointAt(0) ?? 0;
  if (c >= HANGUL_FIRST && c <= HANGUL_LAST) {
    const s = c - HANGUL_FIRST;
    const lead = Math.floor(s / 588);
    const vowel = Math.floor((s % 588) / 28);
    const tail = s % 28;
    const out: string[] = [];
    if (lead !== SILENT_LEAD) out.push(LEADS[lead]);
    out.push(String.fromCodePoint(0x314f + vowel));
    if (tail > 0) out.push(TAILS[tail]);
    return out;
  }
  return [ch.toLowerCase()];
}

/**
 * Chinese: a Han character compares as its toneless pinyin, all readings of it ("~xing|hang|heng"
 * for 行), so a homophone written instead of the keyword's character costs nothing: 敲開 (qiao
 * kai) lines up with 撬开. Traditional characters have their readings too.
 */
const pinyinCache = new Map<string, string>();
function pinyinSymbol(ch: string): string {
  let s = pinyinCache.get(ch);
  if (s === undefined) {
    const readings = pinyin(ch, { toneType: 'none', type: 'array', multiple: true }).map((r) => r.toLowerCase());
    s = `~${[...new Set(readings)].sort().join('|')}`;
    if (pinyinCache.size < 20000) pinyinCache.set(ch, s);
  }
  return s;
}

const HAN = /\p{sc=Han}/u;
const KATAKANA_FIRST = 0x30a1;
const KATAKANA_LAST = 0x30f6;

/**
 * Comparison symbols per language: Hangul as jamo (symbolsOf), Chinese characters as pinyin,
 * Japanese katakana as hiragana (マイク and まいく are one word written in two scripts).
 */
function symbolsFor(language: string): (ch: string) => string[] {
  if (language === 'zh' || language === 'yue') return (ch) => (HAN.test(ch) ? [pinyinSymbol(ch)] : symbolsOf(ch));
  if (language === 'ja') {
    return (ch) => {
      const c = ch.codePointAt(0) ?? 0;
      return c >= KATAKANA_FIRST && c <= KATAKANA_LAST ? [String.fromCodePoint(c - 0x60)] : symbolsOf(ch);
    };
  }
  return symbolsOf;
}

/** Two comparison symbols agree: equal, or (pinyin) the two characters share a reading. */
function same(a: string, b: string): boolean {
  if (a === b) return true;
  if (a[0] !== '~' || b[0] !== '~' || (!a.includes('|') && !b.includes('|'))) return false;
  const ra = a.slice(1).split('|');
  return b.slice(1).split('|').some((r) => ra.includes(r));
}

/** Letters, digits and combining marks take part in matching; the rest separates or is ignored. */
const WORD_CHAR = /[\p{L}\p{N}\p{M}]/u;
const SPACE = /\s/u;

interface Unit {
  start: number;
  end: number;
  symbols: string[];
  /** First unit of a whitespace- or punctuation-delimited word. */
  wordStart: boolean;
  /** Last unit of such a word. */
  wordEnd: boolean;
  /** Whitespace (and only whitespace) separates it from the previous unit. */
  afterSpace: boolean;
  /** Punctuation or other non-word characters separate it from the previous unit. */
  afterOther: boolean;
}

function unitsOf(text: string, symbols: (ch: string) => string[] = symbolsOf): Unit[] {
  const units: Unit[] = [];
  let sawSpace = false;
  let sawOther = false;
  let at = 0;
  for (const ch of text) {
    const len = ch.length;
    if (WORD_CHAR.test(ch)) {
      const prev = units[units.length - 1];
      const boundary = prev === undefined || sawSpace || sawOther;
      if (prev !== undefined && boundary) prev.wordEnd = true;
      units.push({ start: at, end: at + len, symbols: symbols(ch), wordStart: boundary, wordEnd: false, afterSpace: sawSpace && !sawOther, afterOther: sawOther });
      sawSpace = false;
      sawOther = false;
    } else if (SPACE.test(ch)) sawSpace = true;
    else sawOther = true;
    at += len;
  }
  const last = units[units.length - 1];
  if (last !== undefined) last.wordEnd = true;
  return units;
}

interface PreparedKeyword {
  text: string;
  /** Comparison symbols, spaces and punctuation left out. */
  symbols: string[];
  chars: number;
  words: number;
  maxDistance: number;
  /** English: the keyword's letters and their Double Metaphone codes (see phoneticMatches). */
  letters?: string;
  codes?: string[];
}

type Boundary = 'word' | 'prefix' | 'any';

/** Where a match may start and end, by language (see the module comment). */
function boundaryOf(language: string): Boundary {
  if (language === 'ja' || language === 'zh' || language === 'yue') return 'any';
  if (language === 'ko') return 'prefix';
  return 'word';
}

interface Match {
  start: number;
  end: number;
  keyword: PreparedKeyword;
  distance: number;
}

/** Words of the keyword: in spaced text, a span joining more words than that must match exactly. */
function wordCount(text: string): number {
  return text.split(/\s+/u).filter((w) => w !== '').length;
}

export function keywordCorrector(keywords: readonly string[], language: string, opts: CorrectorOptions = {}): KeywordCorrector | undefined {
  const threshold = opts.threshold ?? CORRECTION_THRESHOLDS[language] ?? DEFAULT_THRESHOLD;
  const boundary = boundaryOf(language);
  const symbols = symbolsFor(language);
  const phonetic = language === 'en' && opts.phonetic !== false;
  const seen = new Set<string>();
  const prepared: PreparedKeyword[] = [];
  for (const raw of keywords) {
    const text = raw.trim();
    const units = unitsOf(text, symbols);
    const syms = units.flatMap((u) => u.symbols);
    const key = syms.join('');
    if (syms.length === 0 || seen.has(key)) continue;
    seen.add(key);
    const fuzzy = boundary === 'any' ? syms.length >= MIN_FUZZY_CJK_CHARS : syms.length >= MIN_FUZZY_SYMBOLS;
    const k: PreparedKeyword = { text, symbols: syms, chars: units.length, words: wordCount(text), maxDistance: fuzzy ? Math.floor(threshold * syms.length + 1e-9) : 0 };
    if (phonetic && /^[a-z]+$/u.test(key)) {
      k.letters = key;
      k.codes = [...new Set(doubleMetaphone(key))];
    }
    prepared.push(k);
  }
  if (prepared.length === 0) return undefined;
  const edits = (text: string): TextEdit[] => findEdits(text, prepared, boundary, symbols);
  return {
    edits,
    apply: (text) => applyEdits(text, edits(text)),
  };
}

function findEdits(text: string, keywords: readonly PreparedKeyword[], boundary: Boundary, symbols: (ch: string) => string[]): TextEdit[] {
  const units = unitsOf(text, symbols);
  if (units.length === 0) return [];
  const matches: Match[] = [];
  for (let i = 0; i < units.length; i++) {
    if (boundary !== 'any' && !units[i].wordStart) continue;
    for (const k of keywords) {
      const m = bestMatchAt(units, i, k, boundary);
      if (m !== undefined) matches.push(m);
      else if (k.codes !== undefined) {
        const p = phoneticMatchAt(units, i, k);
        if (p !== undefined) matches.push(p);
      }
    }
  }
  // Closest first (relative to the keyword), then longest: a longer keyword wins over a part of it.
  matches.sort((a, b) => a.distance / a.keyword.symbols.length - b.distance / b.keyword.symbols.length
    || b.keyword.symbols.length - a.keyword.symbols.length || a.start - b.start);
  const taken: Match[] = [];
  for (const m of matches) {
    if (taken.some((t) => m.start < t.end && t.start < m.end)) continue;
    taken.push(m);
  }
  const out: TextEdit[] = [];
  for (const m of taken.sort((a, b) => a.start - b.start)) {
    const span = text.slice(m.start, m.end);
    // Exactly the keyword already: nothing to do.
    if (span === m.keyword.text) continue;
    out.push({ start: m.start, end: m.end, text: m.keyword.text });
  }
  return out;
}

/**
 * The best span starting at unit `i` for keyword `k`: one edit-distance column per text symbol
 * (the keyword down the column), read at every character end, abandoned as soon as every entry
 * exceeds the allowed distance (so most keyword/position pairs cost a handful of symbols).
 */
function bestMatchAt(units: readonly Unit[], i: number, k: PreparedKeyword, boundary: Boundary): Match | undefined {
  const m = k.symbols.length;
  const maxD = k.maxDistance;
  let col = new Array<number>(m + 1);
  let next = new Array<number>(m + 1);
  for (let j = 0; j <= m; j++) col[j] = j;
  let best: Match | undefined;
  const maxChars = k.chars + Math.max(1, maxD);
  let words = 1;
  for (let u = i; u < units.length && u - i < maxChars; u++) {
    const unit = units[u];
    // Matches cross spaces (spacing-insensitive) but not punctuation.
    if (u > i && unit.afterOther) break;
    if (u > i && unit.afterSpace) words++;
    for (const x of unit.symbols) {
      next[0] = col[0] + 1;
      let min = next[0];
      for (let j = 1; j <= m; j++) {
        const sub = col[j - 1] + (same(k.symbols[j - 1], x) ? 0 : 1);
        const v = Math.min(sub, col[j] + 1, next[j - 1] + 1);
        next[j] = v;
        if (v < min) min = v;
      }
      [col, next] = [next, col];
      if (min > maxD) return best;
    }
    const d = col[m];
    if (d > maxD) continue;
    if (boundary === 'word' && !unit.wordEnd) continue;
    // "don't even" is not "seven": joining words is a spacing variant only when nothing else differs.
    if (boundary === 'word' && words > k.words && d > 0) continue;
    const chars = u - i + 1;
    // Equal distance: the span closest in length to the keyword.
    if (best === undefined || d < best.distance || (d === best.distance && Math.abs(chars - k.chars) < Math.abs(spanChars(units, best) - k.chars))) {
      best = { start: units[i].start, end: unit.end, keyword: k, distance: d };
    }
  }
  return best;
}

/** Plain Levenshtein distance of two short strings. */
function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1), prev[j] + 1, cur[j - 1] + 1);
    prev = cur;
  }
  return prev[b.length];
}

const SPELLED = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven', 'twelve'];

/**
 * English words that sound like the keyword although their letters differ ("Cloves" for clubs,
 * "built" for billed): the span of 1 to (keyword words + 1) words starting at unit `i`, its
 * letters joined, against the keyword's Double Metaphone codes. Accepted when a code is equal
 * and at most half the letters differ, or when codes of four sounds or more differ in one
 * substitution and at most PHONETIC_MAX_LETTER_SHARE of the letters differ. A numeral up to
 * twelve counts as its spelled form ("5" for five). Codes of different lengths never match:
 * "heart" (HRT) stays when "hearts" (HRTS) is boosted.
 */
function phoneticMatchAt(units: readonly Unit[], i: number, k: PreparedKeyword): Match | undefined {
  const letters = k.letters as string;
  const codes = k.codes as string[];
  let word = '';
  let words = 0;
  let best: Match | undefined;
  for (let u = i; u < units.length; u++) {
    const unit = units[u];
    if (u > i && unit.afterOther) break;
    word += unit.symbols.join('');
    if (!unit.wordEnd) continue;
    words++;
    if (words > k.words + 1) break;
    const spelled = /^\d+$/u.test(word) ? SPELLED[Number(word)] : undefined;
    word = '';
    // The span's letters, words joined: "club s" compares as clubs.
    const all = spanLetters(units, i, u, spelled);
    if (!/^[a-z]+$/u.test(all)) continue;
    if (words !== k.words) continue;
    const letterD = levenshtein(all, letters);
    const share = letterD / letters.length;
    // A numeral spelled as the keyword ("5" for five) is the keyword itself.
    const numeral = spelled !== undefined && letterD === 0;
    const spanCodes = letters.length >= MIN_PHONETIC_LETTERS ? doubleMetaphone(all) : [];
    const ok = numeral || codes.some((c) => spanCodes.some((sc) => {
      if (sc === c) return share <= PHONETIC_SAME_CODE_LETTER_SHARE;
      return c.length >= 4 && share <= PHONETIC_MAX_LETTER_SHARE && similarSubstitution(sc, c);
    }));
    if (!ok) continue;
    const d = Math.max(1, letterD);
    if (best === undefined || d < best.distance) best = { start: units[i].start, end: unit.end, keyword: k, distance: numeral ? 0 : d };
  }
  return best;
}

/** Metaphone sounds a near miss swaps: lips (P for p/b, F for f/v), th and t, s and sh. */
const SIMILAR_SOUNDS = ['PF', 'T0', 'SX'];

/** Codes of one length differing in one place, by sounds of one SIMILAR_SOUNDS pair. */
function similarSubstitution(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = -1;
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i]) continue;
    if (diff >= 0) return false;
    diff = i;
  }
  return diff >= 0 && SIMILAR_SOUNDS.some((p) => p.includes(a[diff]) && p.includes(b[diff]));
}

function spanLetters(units: readonly Unit[], from: number, to: number, lastSpelled: string | undefined): string {
  // One numeral word at most is spelled: the last one of the span (numbers elsewhere stay digits).
  let out = '';
  let word = '';
  for (let u = from; u <= to; u++) {
    word += units[u].symbols.join('');
    if (units[u].wordEnd || u === to) {
      out += u === to && lastSpelled !== undefined ? lastSpelled : word;
      word = '';
    }
  }
  return out;
}

function spanChars(units: readonly Unit[], m: Match): number {
  let n = 0;
  for (const u of units) if (u.start >= m.start && u.end <= m.end) n++;
  return n;
}

export function applyEdits(text: string, edits: readonly TextEdit[]): string {
  let out = '';
  let at = 0;
  for (const e of edits) {
    out += text.slice(at, e.start) + e.text;
    at = e.end;
  }
  return out + text.slice(at);
}

interface WordGroup {
  /** Word indices [from, to] (inclusive) that become one word. */
  from: number;
  to: number;
  text: string;
}

/**
 * How edits of `text` fall on its words: each edit (and every word it touches) becomes one word,
 * whose text is those words' stretch of the corrected text. Undefined when the words cannot be
 * found in the text in order (then callers correct word by word).
 */
function groupWords(text: string, words: readonly string[], edits: readonly TextEdit[]): WordGroup[] | undefined {
  const ranges: [number, number][] = [];
  let at = 0;
  for (const w of words) {
    const i = text.indexOf(w, at);
    if (i < 0) return undefined;
    ranges.push([i, i + w.length]);
    at = i + w.length;
  }
  const groups: WordGroup[] = [];
  for (const e of edits) {
    let from = -1;
    let to = -1;
    ranges.forEach(([s, f], idx) => {
      if (s < e.end && e.start < f) {
        if (from < 0) from = idx;
        to = idx;
      }
    });
    if (from < 0) continue;
    const last = groups[groups.length - 1];
    if (last !== undefined && from <= last.to) last.to = Math.max(last.to, to);
    else groups.push({ from, to, text: '' });
  }
  for (const g of groups) {
    const s = Math.min(ranges[g.from][0], ...edits.filter((e) => overlaps(e, ranges, g)).map((e) => e.start));
    const f = Math.max(ranges[g.to][1], ...edits.filter((e) => overlaps(e, ranges, g)).map((e) => e.end));
    const inside = edits.filter((e) => e.start >= s && e.end <= f).map((e) => ({ ...e, start: e.start - s, end: e.end - s }));
    g.text = applyEdits(text.slice(s, f), inside).trim();
  }
  return groups;
}

function overlaps(e: TextEdit, ranges: readonly [number, number][], g: WordGroup): boolean {
  return e.start < ranges[g.to][1] && ranges[g.from][0] < e.end;
}

interface CorrectableSegment {
  text: string;
  words: [number, number, string][];
}

/**
 * Corrects a long-form segment's text, and its words so they still line up: the words an edit
 * touches become one word spanning their times (as maskSegment keeps text and words in step).
 */
export function correctSegment<S extends CorrectableSegment>(seg: S, corrector: KeywordCorrector): S {
  const edits = corrector.edits(seg.text);
  if (edits.length === 0) return seg;
  const text = applyEdits(seg.text, edits);
  const groups = groupWords(seg.text, seg.words.map((w) => w[2]), edits);
  if (groups === undefined) {
    return { ...seg, text, words: seg.words.map(([s, e, t]): [number, number, string] => [s, e, corrector.apply(t)]) };
  }
  const words: [number, number, string][] = [];
  let g = 0;
  for (let i = 0; i < seg.words.length; i++) {
    const group = groups[g];
    if (group !== undefined && i === group.from) {
      words.push([seg.words[group.from][0], seg.words[group.to][1], group.text]);
      i = group.to;
      g++;
    } else words.push(seg.words[i]);
  }
  return { ...seg, text, words };
}

interface TimedWord {
  start: number;
  end: number;
  /** With its leading space when it begins a word (engine convention). */
  text: string;
  probability: number;
}

interface CorrectableTranscriptSegment {
  text: string;
  words?: TimedWord[];
}

/** The same for an engine segment (streams): merged words keep the lowest probability. */
export function correctTimedSegment<S extends CorrectableTranscriptSegment>(seg: S, corrector: KeywordCorrector): S {
  const edits = corrector.edits(seg.text);
  if (edits.length === 0) return seg;
  const text = applyEdits(seg.text, edits);
  if (seg.words === undefined) return { ...seg, text };
  const ws = seg.words;
  const groups = groupWords(seg.text, ws.map((w) => w.text.trim()), edits);
  if (groups === undefined) return { ...seg, text, words: ws.map((w) => ({ ...w, text: corrector.apply(w.text) })) };
  const words: TimedWord[] = [];
  let g = 0;
  for (let i = 0; i < ws.length; i++) {
    const group = groups[g];
    if (group !== undefined && i === group.from) {
      const part = ws.slice(group.from, group.to + 1);
      const lead = /^\s/u.test(ws[group.from].text) ? ' ' : '';
      words.push({ start: part[0].start, end: part[part.length - 1].end, text: lead + group.text, probability: Math.min(...part.map((w) => w.probability)) });
      i = group.to;
      g++;
    } else words.push(ws[i]);
  }
  return { ...seg, text, words };
}

/** A whole engine transcript, segment by segment; the text is rebuilt from the segments. */
export function correctTranscript(t: Transcript, corrector: KeywordCorrector | undefined): Transcript {
  if (corrector === undefined) return t;
  const segments = t.segments.map((s) => correctTimedSegment(s, corrector));
  if (segments.every((s, i) => s === t.segments[i])) return t;
  return { ...t, segments, text: segments.map((s) => s.text).join(' ').trim() };
}
