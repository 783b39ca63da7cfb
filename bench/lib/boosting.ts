/**
 * The keyword-boosting figure: on clips where the plain output misses a reference word, is that
 * word there once it is boosted (with distractor keywords beside it, as a real keyword list
 * would have)? And on clips whose reference holds none of the keywords, how much does boosting
 * cost in CER/WER? Each lever is measured alone and together:
 *   prompt  the keywords as Whisper prompt          bias  decoding bonus toward keyword tokens
 *   post    near-miss correction of the text        all   the three together
 * and the pairs prompt+bias, bias+post (the server's default: see docs/api/boostings.md).
 *
 * Clips are split by a hash of their file name into a tuning half and an evaluation half, so
 * the thresholds tuned on one are reported on the other.
 */
import type { KeywordBoost, SpeechEngine } from '../../src/speech/engine.js';
import { keywordCorrector } from '../../src/transcript/boosting.js';
import type { Clip } from './manifest.js';
import { normalise, prepareHypothesis, scoreClip, type ClipScore } from './score.js';
import { formatTable } from './table.js';

export type Half = 'tune' | 'eval' | 'all';
export const LEVERS = ['none', 'prompt', 'bias', 'post', 'prompt+bias', 'bias+post', 'all'] as const;
export type Lever = (typeof LEVERS)[number];

export interface BoostingOptions {
  beamSize: number;
  /** Keywords per request: the target plus distractors. */
  keywordCount: number;
  /** Decoding bias scale (engine `boost.weight`). */
  weight: number;
  /** Post-correction threshold override (default: the corrector's per-language value). */
  threshold?: number;
  /** Decodes already known (a cache across runs: threshold sweeps then cost no decoding). */
  cache?: Map<string, string>;
  /** Part of every boosted cache key: change it when the engine's boosting changes. */
  salt?: string;
  /** Leave out the prompt levers (prompt, prompt+bias, all): the server's default has no prompt, and they double the decoding. */
  noPrompt?: boolean;
  onClip?: (label: string) => void;
}

export interface LeverFigures {
  lever: Lever;
  /** Missed reference words found in the boosted output. */
  found: number;
  targets: number;
  /** Corpus error rate of control clips (reference has none of the keywords), per language. */
  control: { lang: string; errors: number; length: number; rate: number }[];
}

export interface BoostingReport {
  clips: number;
  targetClips: number;
  controlClips: number;
  levers: LeverFigures[];
  /** One line per target: what was missed and what each lever made of it. */
  targets: { file: string; word: string; found: Partial<Record<Lever, boolean>>; texts: Partial<Record<Lever, string>> }[];
  /** What post-correction changed in the plain output ("from -> to"), to judge its threshold. */
  corrections: { file: string; kind: 'target' | 'control'; edits: string[] }[];
  /** Control clips whose errors a lever changed: where boosting helps or hurts unrelated text. */
  controlChanges: { file: string; lever: Lever; errors: number; plainErrors: number; text: string; plain: string }[];
  cache: Map<string, string>;
}

const EN_STOPWORDS = new Set(
  ('about after again also because been before being between both could does doing down during each ' +
    'from further have having here into just more most once only other over same should some such than ' +
    'that their them then there these they this those through under until very were what when where which ' +
    'while whom will with would your yours shall upon said unto').split(' '),
);
// Longest first: "에서는" before "에서" before "에".
const KO_PARTICLES = ['에서는', '에게서', '으로는', '으로써', '으로서', '이라고', '에서', '에게', '한테', '께서', '까지', '부터',
  '으로', '처럼', '보다', '이나', '이랑', '라고', '하고', '은', '는', '이', '가', '을', '를', '에', '의', '로', '와', '과', '도', '만'];
// A word ending like this is a verb or adjective form, not a noun anyone would boost.
const KO_VERBAL = /(다|요|죠|고|며|서|게|지|면|니까|는데|습니다|었|았|겠|던|을까|는가|세요|네|자|해|나|기|은|운|한|된|할|될|인|진|혀|꺼|져|려|워)$/u;
const KO_STOP = new Set(['어느', '어떤', '동안', '때문', '매우', '정말', '그리고', '하지만', '그러나', '그래서', '이제', '지금', '우리', '그것', '이것', '저것',
  '여기', '거기', '많이', '아주', '너무', '다시', '모두', '모든', '같이', '어떤', '그냥', '이런', '그런', '저런', '무엇', '어디', '언제', '누구', '정도']);
// Chinese segments holding one of these are function words ("这个", "就是", "一下"), not names or nouns.
const ZH_FUNCTION_CHARS = /[的了很就这那一是么呢吧啊们个也都还又在有没不我你他她它咱再]/u;
const PUNCT = /[\p{P}\p{S}]/gu;

/**
 * Content words of a reference: nouns and names in practice. Korean: space-separated words
 * with their particle removed, verbal forms left out; English: words of 4+ letters outside a
 * stop list; Japanese and Chinese: ICU word segments (Intl.Segmenter) without hiragana (ja) or
 * function characters (zh).
 * Two characters at least, no digits (numbers are the normaliser's business, not boosting's).
 */
export function contentWords(lang: string, reference: string): string[] {
  const out: string[] = [];
  if (lang === 'ko') {
    for (const raw of reference.split(/\s+/u)) {
      let w = raw.replace(PUNCT, '');
      if (!/^[\uac00-\ud7a3]+$/u.test(w)) continue;
      // "놈과" is 놈 + 과: stripped, then too short to count.
      const p = KO_PARTICLES.find((x) => w.endsWith(x) && [...w].length > [...x].length);
      if (p !== undefined) w = w.slice(0, w.length - p.length);
      if ([...w].length >= 2 && !KO_VERBAL.test(w) && !KO_STOP.has(w) && !w.startsWith('것')) out.push(w);
    }
  } else if (lang === 'en') {
    // Punctuation splits words as the scorer splits them: "that's" is "that" and "s".
    for (const raw of reference.replace(PUNCT, ' ').split(/\s+/u)) {
      const w = raw.toLowerCase();
      if (/^[a-z]{4,}$/u.test(w) && !EN_STOPWORDS.has(w)) out.push(w);
    }
  } else {
    const seg = new Intl.Segmenter(lang, { granularity: 'word' });
    for (const s of seg.segment(reference)) {
      const w = s.segment;
      if (!s.isWordLike || [...w].length < 2 || /\p{N}/u.test(w)) continue;
      // Japanese: kanji and katakana words; anything with kana endings is a verb or adjective form.
      if (lang === 'ja' && /\p{sc=Hiragana}/u.test(w)) continue;
      if (lang === 'zh' && ZH_FUNCTION_CHARS.test(w)) continue;
      out.push(w);
    }
  }
  return [...new Set(out)];
}

/** The word is in the text, compared as the scorer compares (words for en, characters otherwise). */
export function containsWord(lang: string, text: string, word: string): boolean {
  const hyp = normalise(lang, prepareHypothesis(lang, text));
  const w = normalise(lang, prepareHypothesis(lang, word));
  if (w.length === 0) return false;
  if (lang !== 'en') return hyp.join('').includes(w.join(''));
  for (let i = 0; i + w.length <= hyp.length; i++) if (w.every((x, j) => hyp[i + j] === x)) return true;
  return false;
}

/** FNV-1a: a stable hash, so a clip's half and its keyword draw never change between runs. */
export function hash(s: string): number {
  let h = 0x811c9dc5;
  for (const ch of s) {
    h ^= ch.codePointAt(0) ?? 0;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

export function inHalf(file: string, half: Half): boolean {
  if (half === 'all') return true;
  return (hash(file) % 2 === 0) === (half === 'tune');
}

/** `count` distractors for a clip: content words of other clips (same language) its reference lacks. */
function distractors(clip: Clip, pool: readonly string[], count: number, salt: string): string[] {
  const candidates = pool.filter((w) => !containsWord(clip.lang, clip.reference, w) && !(clip.referenceSpelled && containsWord(clip.lang, clip.referenceSpelled, w)));
  const ranked = candidates.map((w) => ({ w, h: hash(`${salt}|${clip.file}|${w}`) })).sort((a, b) => a.h - b.h);
  return ranked.slice(0, count).map((x) => x.w);
}

interface Request {
  clip: Clip;
  keywords: string[];
  target?: string;
}

const DECODE_LEVERS = { prompt: { prompt: true, bias: false }, bias: { prompt: false, bias: true }, 'prompt+bias': { prompt: true, bias: true } } as const;
type DecodeLever = keyof typeof DECODE_LEVERS;

export async function boostingFigure(
  engine: SpeechEngine,
  decode: (path: string) => Promise<{ pcm: Float32Array }>,
  clips: readonly Clip[],
  opts: BoostingOptions,
): Promise<BoostingReport> {
  const cache = new Map(opts.cache ?? []);
  const transcribe = async (c: Clip, boost?: KeywordBoost): Promise<string> => {
    const key = boost === undefined
      ? `beam${opts.beamSize}|plain|${c.file}`
      : `beam${opts.beamSize}|p${boost.prompt ? 1 : 0}|w${boost.weight}${opts.salt && boost.weight ? `|${opts.salt}` : ''}|${c.file}|${hash(boost.keywords.join('\n'))}`;
    const known = cache.get(key);
    if (known !== undefined) return known;
    const { pcm } = await decode(c.path);
    const text = (await engine.transcribe(pcm, { language: c.lang, beamSize: opts.beamSize, temperatureFallback: true, priority: 'batch', boost })).text;
    cache.set(key, text);
    return text;
  };
  const plain = new Map<string, string>();

  // Pools of content words per language, for distractors.
  const pools = new Map<string, string[]>();
  for (const c of clips) pools.set(c.lang, [...new Set([...(pools.get(c.lang) ?? []), ...contentWords(c.lang, c.reference)])]);

  const targets: Request[] = [];
  const controls: Request[] = [];
  for (const c of clips) {
    const text = await transcribe(c);
    plain.set(c.file, text);
    opts.onClip?.(`plain ${c.file}`);
    const missed = contentWords(c.lang, c.reference).filter((w) => !containsWord(c.lang, text, w));
    const pool = pools.get(c.lang) ?? [];
    controls.push({ clip: c, keywords: distractors(c, pool, opts.keywordCount, 'control') });
    if (missed.length > 0) {
      const word = missed[hash(c.file) % missed.length];
      const others = distractors(c, pool, opts.keywordCount - 1, 'target');
      // The target goes somewhere in the list, not always first.
      const at = hash(`${c.file}|at`) % (others.length + 1);
      targets.push({ clip: c, target: word, keywords: [...others.slice(0, at), word, ...others.slice(at)] });
    }
  }

  // Every decode a lever needs, per request; 'none' and 'post' reuse the plain decode.
  const outputs = new Map<Request, Partial<Record<Lever, string>>>();
  const corrections: BoostingReport['corrections'] = [];
  for (const req of [...targets, ...controls]) {
    const c = req.clip;
    const out: Partial<Record<Lever, string>> = { none: plain.get(c.file) };
    for (const lever of Object.keys(DECODE_LEVERS) as DecodeLever[]) {
      const l = DECODE_LEVERS[lever];
      if (opts.noPrompt === true && l.prompt) continue;
      out[lever] = await transcribe(c, { keywords: req.keywords, prompt: l.prompt, weight: l.bias ? opts.weight : 0 });
    }
    const corrector = keywordCorrector(req.keywords, c.lang, { threshold: opts.threshold });
    const post = (t: string | undefined): string => (t === undefined || corrector === undefined ? (t ?? '') : corrector.apply(t));
    out.post = post(out.none);
    out['bias+post'] = post(out.bias);
    const edits = corrector?.edits(out.none ?? '') ?? [];
    if (edits.length > 0) {
      corrections.push({ file: c.file, kind: req.target === undefined ? 'control' : 'target', edits: edits.map((e) => `${(out.none ?? '').slice(e.start, e.end)} -> ${e.text}`) });
    }
    if (opts.noPrompt !== true) out.all = post(out['prompt+bias']);
    outputs.set(req, out);
    opts.onClip?.(`${req.target === undefined ? 'control' : 'target'} ${c.file}`);
  }

  const measured = LEVERS.filter((l) => opts.noPrompt !== true || !['prompt', 'prompt+bias', 'all'].includes(l));
  const controlChanges: BoostingReport['controlChanges'] = [];
  const score = (r: Request, text: string): ClipScore =>
    scoreClip({ lang: r.clip.lang, reference: r.clip.reference, referenceSpelled: r.clip.referenceSpelled }, text);
  for (const r of controls) {
    const out = outputs.get(r) ?? {};
    const plainErrors = score(r, out.none ?? '').errors;
    for (const lever of measured) {
      const errors = score(r, out[lever] ?? '').errors;
      if (errors !== plainErrors) controlChanges.push({ file: r.clip.file, lever, errors, plainErrors, text: out[lever] ?? '', plain: out.none ?? '' });
    }
  }
  const levers: LeverFigures[] = measured.map((lever) => {
    const found = targets.filter((t) => containsWord(t.clip.lang, outputs.get(t)?.[lever] ?? '', t.target as string)).length;
    const per = new Map<string, { lang: string; errors: number; length: number; rate: number }>();
    for (const r of controls) {
      const s: ClipScore = scoreClip({ lang: r.clip.lang, reference: r.clip.reference, referenceSpelled: r.clip.referenceSpelled }, outputs.get(r)?.[lever] ?? '');
      const p = per.get(r.clip.lang) ?? { lang: r.clip.lang, errors: 0, length: 0, rate: 0 };
      p.errors += s.errors;
      p.length += s.length;
      p.rate = p.errors / p.length;
      per.set(r.clip.lang, p);
    }
    return { lever, found, targets: targets.length, control: [...per.values()] };
  });
  return {
    clips: clips.length,
    targetClips: targets.length,
    controlClips: controls.length,
    levers,
    targets: targets.map((t) => ({
      file: t.clip.file,
      word: t.target as string,
      found: Object.fromEntries(measured.map((l) => [l, containsWord(t.clip.lang, outputs.get(t)?.[l] ?? '', t.target as string)])),
      texts: outputs.get(t) ?? {},
    })),
    corrections,
    controlChanges,
    cache,
  };
}

/** The figure as docs/benchmarks.md quotes it: recall of missed words, control CER/WER change, per lever. */
export function formatBoostingReport(r: BoostingReport): string {
  const base = r.levers.find((l) => l.lever === 'none');
  const langs = base?.control.map((c) => c.lang) ?? [];
  const header = ['lever', 'recall of missed words', ...langs.map((l) => `${l} control ${l === 'en' ? 'WER' : 'CER'} (delta)`)];
  const rows = r.levers.map((l) => [
    l.lever,
    `${l.found}/${l.targets} = ${l.targets > 0 ? ((100 * l.found) / l.targets).toFixed(1) : '-'}%`,
    ...langs.map((lang) => {
      const c = l.control.find((x) => x.lang === lang);
      const b = base?.control.find((x) => x.lang === lang);
      if (c === undefined || b === undefined) return '-';
      const d = (c.rate - b.rate) * 100;
      return `${(c.rate * 100).toFixed(2)}% (${d >= 0 ? '+' : ''}${d.toFixed(2)})`;
    }),
  ]);
  return [
    `${r.clips} clips: ${r.targetClips} where the plain output misses a content word (target + distractors boosted), ` +
      `${r.controlClips} controls (distractors only, none in the reference)`,
    formatTable(header, rows),
  ].join('\n');
}

/**
 * The figure for bench/eval.ts: the evaluation half of `clips`, at the server's settings
 * (weight 1, per-language thresholds, 20 keywords), as printable text plus the raw report.
 */
export async function evalBoostingFigure(
  engine: SpeechEngine,
  decode: (path: string) => Promise<{ pcm: Float32Array }>,
  clips: readonly Clip[],
  beamSize = 5,
): Promise<{ report: BoostingReport; text: string }> {
  const report = await boostingFigure(engine, decode, clips.filter((c) => inHalf(c.file, 'eval')), { beamSize, keywordCount: 20, weight: 1 });
  // The server's levers are bias + post (the prompt is off by default, see KeywordBoost.prompt).
  return { report, text: formatBoostingReport(report) };
}
