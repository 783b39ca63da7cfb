/**
 * Scoring experiments for English pronunciation assessment (issue 16): variants of the phoneme,
 * word and utterance scores measured on the same two tasks as bench/assessment.ts
 * (matched-vs-mismatched AUC; the swapped word scoring lowest), the swap over many seeds so that a
 * variant is not picked on one seed's 17 draws. Then the distributions the 0-100 calibration
 * (src/speech/phonemes/calibration.ts) is fitted on. Phoneme-level variants (which phoneme of a
 * word is wrong) are measured by bench/assessment-synthetic.ts.
 *
 *   SORI_MODELS_DIR=/work/shared/models node --import tsx bench/assessment-experiments.ts [--seeds 1-40]
 */
import { parseArgs } from 'node:util';
import { loadG2p } from '../src/speech/phonemes/g2p.js';
import { loadPhonemeRecogniser } from '../src/speech/phonemes/recogniser.js';
import { forcedAlign, goodnessOfPronunciation, type LogProbMatrix } from '../src/speech/phonemes/alignment.js';
import { scorePronunciation, targetTokens, type ScoreTokens } from '../src/speech/phonemes/score.js';
import { loadManifest, manifestPath, selectClips } from './lib/manifest.js';
import { modelsDir, testdataDir } from './lib/paths.js';
import { fixed, formatTable, pct } from './lib/table.js';
import { auc, clipFrames, editDistance, partners, swapFor, wordIds, type ClipData, type Ctx } from './assessment-common.js';
import { helpOnRequest } from './lib/help.js';

helpOnRequest(import.meta.url);

const { values: a } = parseArgs({ options: { seeds: { type: 'string', default: '1-40' }, 'max-s': { type: 'string', default: '30' } } });

/** Everything a variant may use about one alignment. */
interface Aligned {
  lp: LogProbMatrix;
  ids: number[];
  owner: number[];
  spans: { start: number; end: number }[];
  gop: number[];
  words: number;
  tokens: ScoreTokens;
}

type Variant = (x: Aligned) => { utterance: number; words: number[] };

const mean = (xs: readonly number[]): number => (xs.length === 0 ? NaN : xs.reduce((s, x) => s + x, 0) / xs.length);

function align(lp: LogProbMatrix, words: number[][], tokens: ScoreTokens): Aligned | null {
  const { ids, owner } = targetTokens(words, tokens.wordBoundary);
  const al = forcedAlign(lp, ids, tokens.blank);
  if (al === null) return null;
  const gop = goodnessOfPronunciation(lp, ids, al.spans, { notCompetitors: tokens.notCompetitors });
  return { lp, ids, owner, spans: al.spans, gop, words: words.length, tokens };
}

/** Per word, the transformed phoneme scores. */
function perWord(x: Aligned, f: (g: number, id: number) => number): number[][] {
  const out: number[][] = Array.from({ length: x.words }, () => []);
  x.owner.forEach((w, k) => {
    if (w >= 0) out[w].push(f(x.gop[k], x.ids[k]));
  });
  return out;
}

const gopVariant =
  (f: (g: number, id: number) => number, word: (xs: number[]) => number, utt: 'phonemes' | 'words' = 'phonemes'): Variant =>
  (x) => {
    const pw = perWord(x, f);
    const words = pw.map(word);
    const utterance = utt === 'phonemes' ? mean(pw.flat()) : mean(words.filter(Number.isFinite));
    return { utterance, words };
  };

const lowestK = (k: number) => (xs: number[]) => mean([...xs].sort((p, q) => p - q).slice(0, k));

/**
 * Word log-likelihood ratio: the forced path's log-prob over the word's frames minus the best free
 * path's (each frame's best token, blank included), per phoneme. `gap`: also take the frames
 * between this word and its neighbours (where the forced path sits on blank or word boundary).
 */
const llrVariant =
  (gap: boolean, per: 'phoneme' | 'frame' = 'phoneme'): Variant =>
  (x) => {
    const { frames, vocabSize: V, frameCount: T } = x.lp;
    const first: number[] = new Array(x.words).fill(-1);
    const last: number[] = new Array(x.words).fill(-1);
    x.owner.forEach((w, k) => {
      if (w < 0) return;
      if (first[w] < 0) first[w] = k;
      last[w] = k;
    });
    // Forced state per frame: token id of the span holding it, else the blank.
    const state = new Int32Array(T).fill(x.tokens.blank);
    x.spans.forEach((s, k) => {
      for (let t = s.start; t < s.end; t++) state[t] = x.ids[k];
    });
    const words: number[] = [];
    let totalCost = 0;
    let totalPh = 0;
    for (let w = 0; w < x.words; w++) {
      if (first[w] < 0) {
        words.push(NaN);
        continue;
      }
      let lo = x.spans[first[w]].start;
      let hi = x.spans[last[w]].end;
      if (gap) {
        lo = first[w] === 0 ? 0 : x.spans[first[w] - 1].end;
        hi = last[w] === x.ids.length - 1 ? T : x.spans[last[w] + 1].start;
        // The boundary token's own frames are not the word's.
      }
      let cost = 0;
      for (let t = lo; t < hi; t++) {
        const row = t * V;
        let best = -Infinity;
        for (let v = 0; v < V; v++) if (frames[row + v] > best) best = frames[row + v];
        cost += best - frames[row + state[t]];
      }
      const n = last[w] - first[w] + 1;
      words.push(-cost / (per === 'phoneme' ? n : Math.max(1, hi - lo)));
      totalCost += cost;
      totalPh += n;
    }
    return { utterance: -totalCost / totalPh, words };
  };

/**
 * Per-phoneme log-likelihood ratio against the free loop: a phoneme owns its span's frames and the
 * blank frames after it up to the next phoneme of its word; its score is minus the summed cost
 * (best token's log-prob minus the forced state's), or its mean over those frames (`per: 'frame'`).
 */
function phonemeLlr(x: Aligned, per: 'sum' | 'frame' = 'sum', split: 'after' | 'half' = 'after'): number[] {
  const { frames, vocabSize: V } = x.lp;
  const same = (k: number, j: number): boolean => j >= 0 && j < x.ids.length && x.owner[j] === x.owner[k];
  const mid = (lo: number, hi: number): number => lo + Math.ceil((hi - lo) / 2);
  return x.ids.map((id, k) => {
    if (x.owner[k] < 0) return NaN;
    const { start, end } = x.spans[k];
    const from = split === 'half' && same(k, k - 1) ? mid(x.spans[k - 1].end, start) : start;
    const stop = !same(k, k + 1) ? end : split === 'half' ? mid(end, x.spans[k + 1].start) : x.spans[k + 1].start;
    let cost = 0;
    for (let t = from; t < stop; t++) {
      const row = t * V;
      let best = -Infinity;
      for (let v = 0; v < V; v++) if (frames[row + v] > best) best = frames[row + v];
      cost += best - frames[row + (t >= start && t < end ? id : x.tokens.blank)];
    }
    return -cost / (per === 'sum' ? 1 : stop - from);
  });
}

const llrPhonemeVariant =
  (word: (xs: number[]) => number, per: 'sum' | 'frame' = 'sum', split: 'after' | 'half' = 'after'): Variant =>
  (x) => {
    const s = phonemeLlr(x, per, split);
    const pw: number[][] = Array.from({ length: x.words }, () => []);
    x.owner.forEach((w, k) => {
      if (w >= 0) pw[w].push(s[k]);
    });
    return { utterance: mean(pw.flat()), words: pw.map(word) };
  };

async function main(): Promise<void> {
  const [s0, s1] = (a.seeds ?? '1-40').split('-').map(Number);
  const seeds = Array.from({ length: s1 - s0 + 1 }, (_, i) => s0 + i);
  const td = testdataDir();
  const clips = selectClips(loadManifest(manifestPath(td)), td, { lang: 'en', maxS: Number(a['max-s']) });
  const rec = await loadPhonemeRecogniser(modelsDir());
  const g2p = await loadG2p(modelsDir());
  const ctx: Ctx = { rec, g2p, cache: new Map() };
  const tokens: ScoreTokens = { blank: rec.blank, wordBoundary: rec.wordBoundary, notCompetitors: rec.nonPhonemes };
  const data: ClipData[] = [];
  for (const clip of clips) data.push(await clipFrames(rec, clip));
  const partner = partners(data);

  // Alignments, computed once: matched, mismatched, and each seed's swap.
  const matchedAl: (Aligned | null)[] = [];
  const mismatchedAl: (Aligned | null)[] = [];
  for (let i = 0; i < data.length; i++) {
    matchedAl.push(align(data[i].lp, await wordIds(ctx, data[i].words), tokens));
    mismatchedAl.push(align(data[i].lp, await wordIds(ctx, data[partner.get(i) as number].words), tokens));
  }
  const swapSets: Record<string, { seed: number; i: number; at: number; al: Aligned }[]> = { all: [], 'phoneme edit > 1': [] };
  for (const seed of seeds) {
    for (let i = 0; i < data.length; i++) {
      for (const [name, accept] of [
        ['all', undefined],
        ['phoneme edit > 1', (f: string, t: string) => editDistance(ctx.cache.get(f)?.ids ?? [], ctx.cache.get(t)?.ids ?? []) > 1],
      ] as const) {
        // Every word's phonemes are cached by the matched pass; the swap pool only holds reference words.
        const sw = swapFor(data, i, seed, accept);
        if (sw === null) continue;
        const al = align(data[i].lp, await wordIds(ctx, sw.words), tokens);
        if (al) swapSets[name].push({ seed, i, at: sw.at, al });
      }
    }
  }

  // Per-phoneme typical matched GOP, cross-fitted: fold = clip index parity; a clip's normaliser comes from the other fold.
  const foldMu: Map<number, number>[] = [0, 1].map((fold) => {
    const sums = new Map<number, { s: number; n: number }>();
    matchedAl.forEach((al, i) => {
      if (al === null || i % 2 === fold) return;
      al.ids.forEach((id, k) => {
        if (al.owner[k] < 0) return;
        const e = sums.get(id) ?? { s: 0, n: 0 };
        e.s += al.gop[k];
        e.n++;
        sums.set(id, e);
      });
    });
    const all = [...sums.values()];
    const global = all.reduce((s, e) => s + e.s, 0) / all.reduce((s, e) => s + e.n, 0);
    // Shrink towards the global mean (a prior worth 5 observations).
    return new Map([...sums].map(([id, e]) => [id, (e.s + 5 * global) / (e.n + 5)] as [number, number]).concat([[-1, global]]));
  });

  const variants: Record<string, (fold: number) => Variant> = {
    'mean GOP (baseline)': () => gopVariant((g) => g, mean),
    'mean GOP, utt = mean of words': () => gopVariant((g) => g, mean, 'words'),
    'min GOP': () => gopVariant((g) => g, (xs) => Math.min(...xs)),
    'mean of lowest 2 GOP': () => gopVariant((g) => g, lowestK(2)),
    'mean of GOP capped at 0': () => gopVariant((g) => Math.min(g, 0), mean),
    'mean of GOP capped at 1': () => gopVariant((g) => Math.min(g, 1), mean),
    'mean of GOP capped at 2': () => gopVariant((g) => Math.min(g, 2), mean),
    'mean of GOP capped at 3': () => gopVariant((g) => Math.min(g, 3), mean),
    'mean of GOP capped at 4': () => gopVariant((g) => Math.min(g, 4), mean),
    'GOP - phoneme mean (cross-fit)': (fold) => gopVariant((g, id) => g - (foldMu[fold].get(id) ?? (foldMu[fold].get(-1) as number)), mean),
    'GOP - phoneme mean, capped at 0': (fold) => gopVariant((g, id) => Math.min(0, g - (foldMu[fold].get(id) ?? (foldMu[fold].get(-1) as number))), mean),
    'LLR vs free loop, word frames / phoneme': () => llrVariant(false),
    'LLR vs free loop, word + gaps / phoneme': () => llrVariant(true),
    'LLR vs free loop, word frames / frame': () => llrVariant(false, 'frame'),
    'phoneme LLR sum, word mean': () => llrPhonemeVariant(mean),
    'phoneme LLR sum, word min': () => llrPhonemeVariant((xs) => Math.min(...xs)),
    'phoneme LLR sum, word lowest 2': () => llrPhonemeVariant(lowestK(2)),
    'phoneme LLR sum, word lowest 3': () => llrPhonemeVariant(lowestK(3)),
    'phoneme LLR sum (gaps halved), word lowest 2 [score.ts]': () => llrPhonemeVariant(lowestK(2), 'sum', 'half'),
    'phoneme LLR sum (gaps halved), word mean': () => llrPhonemeVariant(mean, 'sum', 'half'),
    'phoneme LLR sum, word lowest half': () => llrPhonemeVariant((xs) => lowestK(Math.ceil(xs.length / 2))(xs)),
    'phoneme LLR sum, word lowest 2, utt words': () => (x) => { const r = llrPhonemeVariant(lowestK(2))(x); return { ...r, utterance: mean(r.words.filter(Number.isFinite)) }; },
    'phoneme LLR frame-mean, word mean': () => llrPhonemeVariant(mean, 'frame'),
    'phoneme LLR frame-mean, word min': () => llrPhonemeVariant((xs) => Math.min(...xs), 'frame'),
    'phoneme LLR frame-mean, word lowest 2': () => llrPhonemeVariant(lowestK(2), 'frame'),
  };

  const rows: (string | number)[][] = [];
  const fails: string[] = [];
  const swapWords = (i: number, seed: number): string => swapFor(data, i, seed)?.to ?? '?';
  for (const [name, make] of Object.entries(variants)) {
    // A clip in fold f (= i % 2) uses the normaliser fitted on the other fold: fold index i % 2 holds stats of clips with parity != i % 2.
    const v = (i: number): Variant => make(i % 2);
    const pos: number[] = [];
    const neg: number[] = [];
    for (let i = 0; i < data.length; i++) {
      pos.push(matchedAl[i] ? v(i)(matchedAl[i] as Aligned).utterance : -Infinity);
      neg.push(mismatchedAl[i] ? v(i)(mismatchedAl[i] as Aligned).utterance : -Infinity);
    }
    const rates: Record<string, { all: number; n: number; s16: number; n16: number }> = {};
    for (const [set, list] of Object.entries(swapSets)) {
      let low = 0;
      let low16 = 0;
      let n16 = 0;
      for (const { seed, i, at, al } of list) {
        const ws = v(i)(al).words;
        const others = ws.filter((s, k) => k !== at && Number.isFinite(s));
        const lowest = ws[at] < Math.min(...others);
        if (lowest) low++;
        else if (process.env.SHOW === name && set === 'all') {
          const kMin = ws.findIndex((s2, k) => k !== at && s2 === Math.min(...others));
          fails.push(`${data[i].clip.file.split('/').pop()} s${seed} ${data[i].words[at]}->${swapWords(i, seed)} ${fixed(ws[at], 2)} vs ${data[i].words[kMin]} ${fixed(ws[kMin], 2)}`);
        }
        if (seed === 16) {
          n16++;
          if (lowest) low16++;
        }
      }
      rates[set] = { all: low / list.length, n: list.length, s16: low16 / Math.max(1, n16), n16 };
    }
    rows.push([name, fixed(auc(pos, neg)), pct(rates.all.all), pct(rates.all.s16), pct(rates['phoneme edit > 1'].all), pct(rates['phoneme edit > 1'].s16)]);
  }
  console.log(`${data.length} clips; swaps over seeds ${s0}-${s1}: ${swapSets.all.length} (all), ${swapSets['phoneme edit > 1'].length} (phoneme edit distance > 1)`);
  console.log(formatTable(['variant', 'AUC', 'swap lowest, all seeds', 'seed 16', 'edit>1, all seeds', 'edit>1 seed 16'], rows));
  if (fails.length > 0) console.log(fails.join('\n'));

  // Calibration data: the raw scores of scorePronunciation on matched clips, and of swapped words (seeds 1-20 fit, 21-40 check).
  const q = (xs: number[], p: number): number => {
    const s2 = [...xs].filter(Number.isFinite).sort((x, y) => x - y);
    return s2[Math.min(s2.length - 1, Math.floor((p / 100) * s2.length))];
  };
  const dist = (name: string, xs: number[]): void => console.log(`${name.padEnd(46)} n=${String(xs.length).padStart(5)}  p10 ${fixed(q(xs, 10), 2)}  p25 ${fixed(q(xs, 25), 2)}  p50 ${fixed(q(xs, 50), 2)}  p75 ${fixed(q(xs, 75), 2)}  p90 ${fixed(q(xs, 90), 2)}`);
  const cal = { wordOk: [] as number[], phonOk: [] as number[], uttOk: [] as number[], uttBad: [] as number[], wordBadFit: [] as number[], wordBadCheck: [] as number[], phonBad: [] as number[] };
  for (let i = 0; i < data.length; i++) {
    const m = scorePronunciation(data[i].lp, await wordIds(ctx, data[i].words), tokens);
    const mm = scorePronunciation(data[i].lp, await wordIds(ctx, data[partner.get(i) as number].words), tokens);
    if (m) {
      cal.uttOk.push(m.utterance);
      for (const w of m.words) if (w.phonemes.length > 0) {
        cal.wordOk.push(w.score);
        cal.phonOk.push(...w.phonemes);
      }
    }
    cal.uttBad.push(mm?.utterance ?? -Infinity);
    for (const seed of seeds) {
      const sw = swapFor(data, i, seed);
      if (sw === null) continue;
      const r = scorePronunciation(data[i].lp, await wordIds(ctx, sw.words), tokens);
      if (r === null) continue;
      (seed <= 20 ? cal.wordBadFit : cal.wordBadCheck).push(r.words[sw.at].score);
      const orig = new Set(ctx.cache.get(sw.from)?.ids ?? []);
      const ids = ctx.cache.get(sw.to)?.ids ?? [];
      if (seed <= 20) r.words[sw.at].phonemes.forEach((x, k) => (orig.has(ids[k]) ? null : cal.phonBad.push(x)));
    }
  }
  dist('phoneme, matched', cal.phonOk);
  dist('phoneme of a swapped word, not in the original, s1-20', cal.phonBad);
  dist('word, matched', cal.wordOk);
  dist('swapped word, seeds 1-20', cal.wordBadFit);
  dist('swapped word, seeds 21-40', cal.wordBadCheck);
  dist('utterance, matched', cal.uttOk);
  dist('utterance, mismatched', cal.uttBad);
  await g2p.close();
  await rec.close();
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
