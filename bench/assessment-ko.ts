/**
 * Pronunciation assessment (issue 16), Korean, in-process: Whisper's decoder forced through the
 * target text (src/speech/whisper/forced-text.ts), scored by src/speech/assessment/korean.ts, on
 * the Korean testdata clips that have a reference (<= 30 s: one window).
 *
 *   SORI_MODELS_DIR=/work/shared/models node --import tsx bench/assessment-ko.ts [--max-s 30]
 *     [--max-clips 120] [--seed 16] [--cost-runs 10] [--threads 2] [--spelled] [--json] [--verbose]
 *
 * Clips are split by a hash of the file name into a tuning half (scoring variant and calibration
 * chosen there) and an evaluation half (reported, not looked at for choosing).
 *
 * 1. Matched vs mismatched: each clip scored against its own reference and against the reference
 *    of the clip nearest in duration with other words (several speakers read the same scripts). AUC of the utterance
 *    raw score (P(matched > mismatched) over every pair, ties half).
 * 2. One word swapped: one scored word of >= 2 syllables, chosen with a PRNG seeded by --seed and
 *    the file name, replaced by a word of >= 2 syllables from another clip's reference (not in
 *    this one). Rate = share of clips where the swapped word has the lowest word raw score.
 *    Also (info, no target) one syllable changed: in one such word, one syllable's leading
 *    consonant or vowel replaced by another (same PRNG): a one-syllable mispronunciation seen from
 *    the target's side. Rates: the changed syllable has the lowest syllable score of the utterance;
 *    its word has the lowest word score.
 * 3. Cost per clip of 4-6 s: the forced decode only (one decoder pass over prefix + text against
 *    the window's cross K/V, already computed: the server reuses the transcription's), and the
 *    prior's pass (same against a silent window) when the variant needs it; RSS.
 *
 * Every variant (token feature x syllable combination x word combination) is scored on both
 * halves; the best on the tuning half (largest AUC + swap rate + changed-syllable rate) is reported, and a logistic
 * calibration to 0-100 is fitted on the tuning half's words (said: words of matched clips; not
 * said: swapped words and words of mismatched references).
 */
import { parseArgs } from 'node:util';
import { decodeFile } from '../src/media/decode.js';
import { loadWhisperModel } from '../src/speech/whisper/model.js';
import { ForcedTextScorer, type ForcedToken } from '../src/speech/whisper/forced-text.js';
import { mulberry32 } from '../src/speech/whisper/search.js';
import {
  KOREAN_NORMALISATION, DEFAULT_KOREAN_SCORING, calibrate, fitLogistic, koreanRawScores, koreanTarget,
  type Combine, type KoreanScoring, type KoreanTarget, type TokenFeature,
} from '../src/speech/assessment/korean.js';
import { loadManifest, manifestPath, selectClips, type Clip } from './lib/manifest.js';
import { modelsDir, testdataDir } from './lib/paths.js';
import { fixed, formatTable, pct } from './lib/table.js';
import { machineInfo, writeLatest, type Check } from './lib/output.js';
import { log, progress } from './lib/progress.js';
import { percentile, round } from './lib/stats.js';
import { join } from 'node:path';
import { auc, hash } from './assessment-common.js';
import { helpOnRequest } from './lib/help.js';

helpOnRequest(import.meta.url);

const { values: a } = parseArgs({
  options: {
    'max-s': { type: 'string', default: '30' },
    'max-clips': { type: 'string', default: '120' },
    seed: { type: 'string', default: '16' },
    'cost-runs': { type: 'string', default: '10' },
    threads: { type: 'string', default: '2' },
    spelled: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    verbose: { type: 'boolean', short: 'v', default: false },
  },
});

const AUC_TARGET = 0.95;
const SWAP_TARGET = 0.85;


interface Forced {
  target: KoreanTarget;
  tokens: ForcedToken[];
  prior: ForcedToken[];
}

interface ClipData {
  clip: Clip;
  half: 'tuning' | 'evaluation';
  matched: Forced;
  mismatched: Forced;
  partner: string;
  swap?: Forced & { at: number; from: string; to: string };
  /** One syllable of one word changed in its onset or vowel (a mispronunciation, seen from the target's side). */
  change?: Forced & { at: number; syllable: number; from: string; to: string };
}

/** A Hangul syllable with its leading consonant (19) or its vowel (21) changed to another, by `rand`. */
export function changeSyllable(ch: string, rand: () => number): string {
  const c = (ch.codePointAt(0) ?? 0) - 0xac00;
  const lead = Math.floor(c / 588);
  const vowel = Math.floor((c % 588) / 28);
  const tail = c % 28;
  const other = (n: number, not: number) => (not + 1 + Math.floor(rand() * (n - 1))) % n;
  const [l, v] = rand() < 0.5 ? [other(19, lead), vowel] : [lead, other(21, vowel)];
  return String.fromCodePoint(0xac00 + (l * 21 + v) * 28 + tail);
}

type Variant = Pick<KoreanScoring, 'feature' | 'syllable' | 'word'>;

/**
 * Each clip's partner for the mismatched score: the clip nearest in duration whose scored words
 * differ (several speakers read the same scripts: a same-text partner would be a second match).
 */
export function partners(clips: readonly Clip[], targets: readonly KoreanTarget[]): Map<number, number> {
  const key = targets.map((t) => t.words.map((w) => w.word).join(' '));
  const out = new Map<number, number>();
  clips.forEach((c, i) => {
    let best = -1;
    clips.forEach((d, j) => {
      if (key[j] === key[i]) return;
      const gap = Math.abs(d.durationS - c.durationS);
      const bestGap = best < 0 ? Infinity : Math.abs(clips[best].durationS - c.durationS);
      if (gap < bestGap || (gap === bestGap && d.file < clips[best].file)) best = j;
    });
    if (best < 0) throw new Error('every clip has the same reference');
    out.set(i, best);
  });
  return out;
}

const rssMb = (): number => process.memoryUsage().rss / 2 ** 20;
const textOf = (c: Clip, spelled: boolean): string => (spelled && c.referenceSpelled ? c.referenceSpelled : c.reference);
const nanLow = (x: number): number => (Number.isFinite(x) ? x : -Infinity);

interface Measure {
  auc: number;
  pairedWins: number;
  swapRate: number;
  swaps: number;
  /** Changed syllable: lowest chunk of the utterance; its word: lowest word. */
  changedChunkLowest: number;
  changedWordLowest: number;
  changes: number;
  clips: number;
}

function measure(data: readonly ClipData[], v: Variant): Measure {
  const raw = (f: Forced) => koreanRawScores(f.target, f.tokens, v, f.prior);
  const matched = data.map((d) => nanLow(raw(d.matched).utterance));
  const mismatched = data.map((d) => nanLow(raw(d.mismatched).utterance));
  let lowest = 0;
  let swaps = 0;
  for (const d of data) {
    if (!d.swap) continue;
    const w = raw(d.swap).words.map(nanLow);
    const others = w.filter((_, k) => k !== d.swap?.at);
    swaps++;
    if (others.length === 0 || w[d.swap.at] < Math.min(...others)) lowest++;
  }
  let chunkLowest = 0;
  let wordLowest = 0;
  let changes = 0;
  for (const d of data) {
    const ch = d.change;
    if (!ch) continue;
    const r = raw(ch);
    changes++;
    const own = nanLow(r.syllables[ch.at][ch.syllable]);
    const otherSyllables = r.syllables.flatMap((s, w) => s.filter((_, k) => !(w === ch.at && k === ch.syllable))).map(nanLow);
    if (otherSyllables.length === 0 || own < Math.min(...otherSyllables)) chunkLowest++;
    const w = r.words.map(nanLow);
    const others = w.filter((_, k) => k !== ch.at);
    if (others.length === 0 || w[ch.at] < Math.min(...others)) wordLowest++;
  }
  return {
    changedChunkLowest: changes > 0 ? chunkLowest / changes : NaN,
    changedWordLowest: changes > 0 ? wordLowest / changes : NaN,
    changes,
    auc: auc(matched, mismatched),
    pairedWins: matched.filter((m, i) => m > mismatched[i]).length / data.length,
    swapRate: swaps > 0 ? lowest / swaps : NaN,
    swaps,
    clips: data.length,
  };
}

/** Word raw scores said (matched clips' words) and not said (swapped words, mismatched references' words). */
function wordSamples(data: readonly ClipData[], v: Variant): { said: number[]; notSaid: number[]; swapped: number[] } {
  const said: number[] = [];
  const notSaid: number[] = [];
  const swapped: number[] = [];
  for (const d of data) {
    said.push(...koreanRawScores(d.matched.target, d.matched.tokens, v, d.matched.prior).words);
    notSaid.push(...koreanRawScores(d.mismatched.target, d.mismatched.tokens, v, d.mismatched.prior).words);
    if (d.swap) {
      const s = koreanRawScores(d.swap.target, d.swap.tokens, v, d.swap.prior).words[d.swap.at];
      notSaid.push(s);
      swapped.push(s);
    }
  }
  const f = (xs: number[]) => xs.filter(Number.isFinite);
  return { said: f(said), notSaid: f(notSaid), swapped: f(swapped) };
}

/** Mean 0-100 scores under a calibration: words said, swapped words, utterances matched and mismatched. */
function percents(data: readonly ClipData[], v: Variant, cal: KoreanScoring['calibration']) {
  const w = wordSamples(data, v);
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  const utt = (f: Forced) => {
    const r = koreanRawScores(f.target, f.tokens, v, f.prior);
    let s = 0, n = 0;
    r.words.forEach((x, i) => {
      s += Math.round(calibrate(x, cal)) * r.syllables[i].length;
      n += r.syllables[i].length;
    });
    return n > 0 ? s / n : 0;
  };
  return {
    wordSaid: mean(w.said.map((x) => calibrate(x, cal))),
    wordSwapped: mean(w.swapped.map((x) => calibrate(x, cal))),
    wordSaidBelow50: w.said.filter((x) => calibrate(x, cal) < 50).length / w.said.length,
    swappedAbove50: w.swapped.filter((x) => calibrate(x, cal) >= 50).length / w.swapped.length,
    utteranceMatched: mean(data.map((d) => utt(d.matched))),
    utteranceMismatched: mean(data.map((d) => utt(d.mismatched))),
  };
}

async function main(): Promise<void> {
  const maxS = Number(a['max-s']);
  const maxClips = Number(a['max-clips']);
  const seed = Number(a.seed);
  const costRuns = Number(a['cost-runs']);
  const threads = Number(a.threads);
  const spelled = a.spelled;
  const td = testdataDir();
  let clips = selectClips(loadManifest(manifestPath(td)), td, { lang: 'ko', maxS }).filter((c) => koreanTarget(textOf(c, spelled)).words.length > 0);
  // Cap by a hash order (not manifest order) so a capped run still mixes sources.
  if (clips.length > maxClips) clips = [...clips].sort((x, y) => hash(x.file) - hash(y.file)).slice(0, maxClips);
  if (clips.length < 4) throw new Error('need at least four Korean clips with a reference');

  const rss0 = rssMb();
  const t0 = performance.now();
  const model = await loadWhisperModel(join(modelsDir(), 'whisper-base'), 'whisper-base', threads);
  const scorer = new ForcedTextScorer(model);
  const silence = await scorer.silence();
  const loadS = (performance.now() - t0) / 1000;
  const rssLoaded = rssMb();
  log(`model loaded in ${loadS.toFixed(1)} s; ${clips.length} clips`);

  // Partners by duration; swaps chosen before any model run.
  const targets = clips.map((c) => koreanTarget(textOf(c, spelled)));
  const partner = partners(clips, targets);
  const longWords = targets.map((t) => [...new Set(t.words.map((w) => w.word).filter((w) => [...w].length >= 2))]);

  const forced = async (cross: Parameters<ForcedTextScorer['score']>[0], target: KoreanTarget): Promise<Forced> => ({
    target,
    tokens: (await scorer.score(cross, 'ko', target.text)).tokens,
    prior: (await scorer.score(silence, 'ko', target.text)).tokens,
  });

  const data: ClipData[] = [];
  let rssFirst = 0;
  const bar = progress('clips', clips.length);
  for (let i = 0; i < clips.length; i++) {
    const clip = clips[i];
    const { pcm } = await decodeFile(clip.path);
    const cross = await scorer.encodeWindow(pcm);
    const j = partner.get(i) as number;
    const d: ClipData = {
      clip,
      half: hash(clip.file) % 2 === 0 ? 'tuning' : 'evaluation',
      matched: await forced(cross, targets[i]),
      mismatched: await forced(cross, targets[j]),
      partner: clips[j].file,
    };
    const rand = mulberry32(seed ^ hash(clip.file));
    const candidates = targets[i].words.flatMap((w, k) => ([...w.word].length >= 2 ? [k] : []));
    const own = new Set(targets[i].words.map((w) => w.word));
    const pool = [...new Set(longWords.flatMap((ws, k) => (k === i ? [] : ws)))].filter((w) => !own.has(w)).sort();
    if (candidates.length > 0 && pool.length > 0) {
      const at = candidates[Math.floor(rand() * candidates.length)];
      const to = pool[Math.floor(rand() * pool.length)];
      const w = targets[i].words[at];
      const chars = Array.from(targets[i].text);
      const swapped = koreanTarget([...chars.slice(0, w.start), to, ...chars.slice(w.end)].join(''));
      if (swapped.words[at]?.word !== to) throw new Error(`swap in ${clip.file} moved the words`);
      d.swap = { ...(await forced(cross, swapped)), at, from: w.word, to };
    }
    if (candidates.length > 0) {
      const at = candidates[Math.floor(rand() * candidates.length)];
      const w = targets[i].words[at];
      const syllables = Array.from(w.word);
      const syllable = Math.floor(rand() * syllables.length);
      const to = changeSyllable(syllables[syllable], rand);
      const chars = Array.from(targets[i].text);
      chars[w.start + syllable] = to;
      const changed = koreanTarget(chars.join(''));
      d.change = { ...(await forced(cross, changed)), at, syllable, from: syllables[syllable], to };
    }
    data.push(d);
    if (rssFirst === 0) rssFirst = rssMb();
    bar.tick(clip.file);
  }
  bar.stop();

  // Variants, chosen on the tuning half.
  const tuning = data.filter((d) => d.half === 'tuning');
  const evaluation = data.filter((d) => d.half === 'evaluation');
  const features: TokenFeature[] = ['logProb', 'margin', 'pmi'];
  const combines: Combine[] = ['sum', 'mean', 'min', 'first'];
  const variants: { v: Variant; tuning: Measure; evaluation: Measure; all: Measure }[] = [];
  for (const feature of features) {
    for (const syllable of combines) {
      for (const word of combines) {
        const v = { feature, syllable, word };
        variants.push({ v, tuning: measure(tuning, v), evaluation: measure(evaluation, v), all: measure(data, v) });
      }
    }
  }
  const objective = (m: Measure) => m.auc + m.swapRate + m.changedChunkLowest;
  variants.sort((x, y) => objective(y.tuning) - objective(x.tuning));
  const best = variants[0];
  const def = variants.find((x) => x.v.feature === DEFAULT_KOREAN_SCORING.feature && x.v.syllable === DEFAULT_KOREAN_SCORING.syllable && x.v.word === DEFAULT_KOREAN_SCORING.word);
  if (def === undefined) throw new Error('the default variant is not in the grid');
  const wsTune = wordSamples(tuning, best.v);
  const fitted = fitLogistic(wsTune.said, wsTune.notSaid);
  const defCal = DEFAULT_KOREAN_SCORING.calibration;

  // 3. Cost on clips of about 5 s: the forced decode against an encoded window.
  const costClips = data.filter((d) => d.clip.durationS >= 4 && d.clip.durationS <= 6).slice(0, 10);
  const times: number[] = [];
  const priorTimes: number[] = [];
  const tokenCounts: number[] = [];
  for (const d of costClips) {
    const { pcm } = await decodeFile(d.clip.path);
    const cross = await scorer.encodeWindow(pcm);
    for (let r = 0; r <= costRuns; r++) {
      let t = performance.now();
      const f = await scorer.score(cross, 'ko', d.matched.target.text);
      if (r > 0) times.push(performance.now() - t);
      t = performance.now();
      await scorer.score(silence, 'ko', d.matched.target.text);
      if (r > 0) priorTimes.push(performance.now() - t);
      if (r === 0) tokenCounts.push(f.tokens.length);
    }
  }
  const rssEnd = rssMb();

  const status = (x: number, target: number) => (x >= target ? 'PASS' : 'FAIL') as Check['status'];
  const checks: Check[] = [
    { name: 'matched vs mismatched AUC (evaluation half, default scoring)', value: fixed(def.evaluation.auc), target: `>= ${AUC_TARGET}`, status: status(def.evaluation.auc, AUC_TARGET) },
    { name: 'swapped word lowest (evaluation half, default scoring)', value: pct(def.evaluation.swapRate), target: `>= ${pct(SWAP_TARGET, 0)}`, status: status(def.evaluation.swapRate, SWAP_TARGET) },
  ];
  const summary = (m: Measure) => ({
    auc: round(m.auc, 4), pairedWins: round(m.pairedWins, 4), swapRate: round(m.swapRate, 4), swaps: m.swaps,
    changedChunkLowest: round(m.changedChunkLowest, 4), changedWordLowest: round(m.changedWordLowest, 4), changes: m.changes, clips: m.clips,
  });
  const result = {
    kind: 'sori-assessment-ko',
    date: new Date().toISOString(),
    selection: { lang: 'ko', maxS, maxClips, clips: clips.length, tuning: tuning.length, evaluation: evaluation.length, text: spelled ? 'reference_spelled where given' : 'reference' },
    model: { whisper: 'whisper-base int8', threads },
    normalisation: KOREAN_NORMALISATION,
    seed,
    machine: machineInfo(),
    defaultScoring: { scoring: DEFAULT_KOREAN_SCORING, tuning: summary(def.tuning), evaluation: summary(def.evaluation), percents: { tuning: percents(tuning, def.v, defCal), evaluation: percents(evaluation, def.v, defCal) } },
    bestOnTuning: { variant: best.v, tuning: summary(best.tuning), evaluation: summary(best.evaluation), fittedCalibration: { scale: round(fitted.scale, 4), centre: round(fitted.centre, 4) }, percents: { tuning: percents(tuning, best.v, fitted), evaluation: percents(evaluation, best.v, fitted) } },
    variants: variants.map((x) => ({ ...x.v, tuning: summary(x.tuning), evaluation: summary(x.evaluation) })),
    cost: {
      clips: costClips.map((d) => d.clip.file),
      tokens: tokenCounts,
      runs: times.length,
      forcedP50Ms: round(percentile(times, 50), 1),
      forcedP95Ms: round(percentile(times, 95), 1),
      priorP50Ms: round(percentile(priorTimes, 50), 1),
      loadS: round(loadS, 2),
      rssMb: { before: round(rss0, 1), afterLoad: round(rssLoaded, 1), afterFirstClip: round(rssFirst, 1), end: round(rssEnd, 1) },
    },
    pairs: data.map((d) => ({
      file: d.clip.file, half: d.half, partner: d.partner,
      matched: round(koreanRawScores(d.matched.target, d.matched.tokens, def.v, d.matched.prior).utterance, 3),
      mismatched: round(koreanRawScores(d.mismatched.target, d.mismatched.tokens, def.v, d.mismatched.prior).utterance, 3),
    })),
    changes: data.flatMap((d) => (d.change ? [{ file: d.clip.file, half: d.half, from: d.change.from, to: d.change.to, word: d.change.at, syllable: d.change.syllable, syllables: koreanRawScores(d.change.target, d.change.tokens, def.v, d.change.prior).syllables.map((w) => w.map((x) => round(x, 2))) }] : [])),
    swaps: data.flatMap((d) => (d.swap ? [{ file: d.clip.file, half: d.half, from: d.swap.from, to: d.swap.to, words: koreanRawScores(d.swap.target, d.swap.tokens, def.v, d.swap.prior).words.map((x) => round(x, 2)), at: d.swap.at }] : [])),
    checks,
  };
  const path = writeLatest('assessment-ko', result);
  if (a.json) {
    console.log(JSON.stringify(result));
    return;
  }
  const fmt = (m: Measure) => [fixed(m.auc), pct(m.swapRate), pct(m.changedChunkLowest), pct(m.changedWordLowest)];
  console.log(`Korean pronunciation assessment: ${clips.length} clips <= ${maxS} s (tuning ${tuning.length}, evaluation ${evaluation.length}); text: ${result.selection.text}; seed ${seed}; ${threads} thread(s)`);
  console.log(`normalisation: ${KOREAN_NORMALISATION}`);
  const rows = (a.verbose ? variants : variants.slice(0, 12)).map((x) => [`${x.v.feature}/${x.v.syllable}/${x.v.word}`, ...fmt(x.tuning), ...fmt(x.evaluation)]);
  rows.push([`default ${def.v.feature}/${def.v.syllable}/${def.v.word}`, ...fmt(def.tuning), ...fmt(def.evaluation)]);
  console.log('\n' + formatTable(['feature/syllable/word', 'AUC tune', 'swap tune', 'chg syl tune', 'chg word tune', 'AUC eval', 'swap eval', 'chg syl eval', 'chg word eval'], rows));
  const p = (x: ReturnType<typeof percents>) => `word said ${fixed(x.wordSaid, 1)} (below 50: ${pct(x.wordSaidBelow50)}), swapped ${fixed(x.wordSwapped, 1)} (50+: ${pct(x.swappedAbove50)}); utterance matched ${fixed(x.utteranceMatched, 1)}, mismatched ${fixed(x.utteranceMismatched, 1)}`;
  console.log(`\ndefault calibration scale ${defCal.scale} centre ${defCal.centre} (${def.v.feature}/${def.v.syllable}/${def.v.word}):`);
  console.log(`  tuning:     ${p(result.defaultScoring.percents.tuning)}`);
  console.log(`  evaluation: ${p(result.defaultScoring.percents.evaluation)}`);
  console.log(`best on tuning ${best.v.feature}/${best.v.syllable}/${best.v.word}, logistic fitted on tuning: scale ${fixed(fitted.scale, 4)} centre ${fixed(fitted.centre, 4)}`);
  console.log(`  tuning:     ${p(result.bestOnTuning.percents.tuning)}`);
  console.log(`  evaluation: ${p(result.bestOnTuning.percents.evaluation)}`);
  console.log(
    '\n' +
      formatTable(
        ['measure', 'value', 'target', 'status', 'n'],
        [
          [checks[0].name, checks[0].value, checks[0].target, checks[0].status, `${def.evaluation.clips}+${def.evaluation.clips}`],
          [checks[1].name, checks[1].value, checks[1].target, checks[1].status, def.evaluation.swaps],
          ['forced decode, ~5 s clip, p50 ms', fixed(percentile(times, 50), 1), '', 'info', times.length],
          ['forced decode, ~5 s clip, p95 ms', fixed(percentile(times, 95), 1), '', 'info', times.length],
          ['prior pass (silent window) p50 ms', fixed(percentile(priorTimes, 50), 1), '', 'info', priorTimes.length],
          ['RSS growth, model + silent window MB', fixed(rssLoaded - rss0, 0), '', 'info', ''],
          ['RSS growth, after first clip MB', fixed(rssFirst - rss0, 0), '', 'info', ''],
          ['RSS growth, end MB', fixed(rssEnd - rss0, 0), '', 'info', ''],
        ],
      ),
  );
  console.log(`\nwritten: ${path}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
