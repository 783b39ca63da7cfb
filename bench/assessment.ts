/**
 * Pronunciation assessment (issue 16), English, in-process: the hama phoneme recogniser, the G2P
 * and the forced alignment + GOP of src/speech/phonemes/score.ts on the testdata clips that have a
 * reference (English, <= 30 s by default).
 *
 *   SORI_MODELS_DIR=/work/shared/models node --import tsx bench/assessment.ts [--max-s 30] [--seed 16]
 *     [--cost-runs 10] [--threads 1] [--json] [--verbose]
 *
 * 1. Matched vs mismatched: each clip scored against its own reference and against the reference
 *    of its neighbour by duration (clips sorted by duration, paired 0-1, 2-3, ...; an odd last one
 *    pairs with the one before). Utterance score = mean GOP over all the target's phonemes. AUC =
 *    probability that a matched score is above a mismatched one (over every matched x mismatched
 *    pair, ties counting half); a mismatched target the clip is too short for scores -Infinity.
 * 2. One word swapped: in each clip's reference, one content word (>= 4 letters, not a stop word,
 *    no digits), chosen with a PRNG seeded by --seed and the file name, is replaced by a content
 *    word of another clip's reference (same PRNG, from the pool of all other clips' content words
 *    not in this reference). Word score = mean GOP over its phonemes. Rate = share of clips where
 *    the swapped word has the lowest word score of the utterance.
 * 3. Cost: time to score each clip of 4-6 s (recogniser + G2P of each word, uncached + alignment
 *    + GOP; audio decoding excluded), --cost-runs times after a warm-up; RSS growth after loading
 *    the two models, and after the first scoring.
 */
import { parseArgs } from 'node:util';
import { basename } from 'node:path';
import { decodeFile } from '../src/media/decode.js';
import { loadG2p, type G2p } from '../src/speech/phonemes/g2p.js';
import { loadPhonemeRecogniser, type PhonemeRecogniser } from '../src/speech/phonemes/recogniser.js';
import type { LogProbMatrix } from '../src/speech/phonemes/alignment.js';
import { REFERENCE_NORMALISATION, phonemeTargets, referenceWords, scorePronunciation, type PronunciationScore } from '../src/speech/phonemes/score.js';
import { loadManifest, manifestPath, selectClips, type Clip } from './lib/manifest.js';
import { modelsDir, testdataDir } from './lib/paths.js';
import { fixed, formatTable, pct } from './lib/table.js';
import { machineInfo, writeLatest, type Check } from './lib/output.js';
import { log } from './lib/progress.js';
import { percentile, round } from './lib/stats.js';
import { mulberry32 } from '../src/speech/whisper/search.js';

const { values: a } = parseArgs({
  options: {
    'max-s': { type: 'string', default: '30' },
    seed: { type: 'string', default: '16' },
    'cost-runs': { type: 'string', default: '10' },
    threads: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
    verbose: { type: 'boolean', short: 'v', default: false },
  },
});

const AUC_TARGET = 0.98;
const SWAP_TARGET = 0.9;

/** Function words of 4+ letters that are not "content" for the swap (shorter words are never chosen). */
const STOP = new Set(
  (
    'about above after again against also been before being below between both but cannot could does doing down during each ' +
    'even every from further have having here hers herself himself into itself just more most much myself once only other ' +
    'ourselves over same should some such than that thats their theirs them themselves then there these they this those ' +
    'through under until upon very were what when where which while whom whose will with would your yours yourself ' +
    'yeah okay didnt dont cant isnt wasnt theres thats ill youre'
  ).split(' '),
);

const isContent = (w: string): boolean => /^\p{L}+$/u.test(w) && [...w].length >= 4 && !STOP.has(w.replace(/'/g, ''));

function hash(text: string): number {
  let h = 2166136261;
  for (const ch of text) h = Math.imul(h ^ (ch.codePointAt(0) ?? 0), 16777619);
  return h >>> 0;
}

/** AUC: P(matched > mismatched) over every pair, ties half. */
export function auc(pos: readonly number[], neg: readonly number[]): number {
  let wins = 0;
  for (const p of pos) for (const n of neg) wins += p > n ? 1 : p === n ? 0.5 : 0;
  return wins / (pos.length * neg.length);
}

interface Ctx {
  rec: PhonemeRecogniser;
  g2p: G2p;
  cache: Map<string, number[]>;
}

async function wordIds(ctx: Ctx, word: string, cached = true): Promise<number[]> {
  const hit = cached ? ctx.cache.get(word) : undefined;
  if (hit) return hit;
  const { phonemes } = await ctx.g2p.word(word);
  const ids = phonemeTargets(ctx.rec.vocab, ctx.rec.nonPhonemes, phonemes);
  if (cached) ctx.cache.set(word, ids);
  return ids;
}

async function score(ctx: Ctx, lp: LogProbMatrix, words: readonly string[], cached = true): Promise<PronunciationScore | null> {
  const ids: number[][] = [];
  for (const w of words) ids.push(await wordIds(ctx, w, cached));
  return scorePronunciation(lp, ids, { blank: ctx.rec.blank, wordBoundary: ctx.rec.wordBoundary, notCompetitors: ctx.rec.nonPhonemes });
}

const rssMb = (): number => process.memoryUsage().rss / 2 ** 20;

async function main(): Promise<void> {
  const maxS = Number(a['max-s']);
  const seed = Number(a.seed);
  const costRuns = Number(a['cost-runs']);
  const threads = Number(a.threads);
  const td = testdataDir();
  const clips = selectClips(loadManifest(manifestPath(td)), td, { lang: 'en', maxS });
  if (clips.length < 2) throw new Error('need at least two English clips with a reference');

  const rss0 = rssMb();
  const t0 = performance.now();
  const rec = await loadPhonemeRecogniser(modelsDir(), { threads });
  const g2p = await loadG2p(modelsDir(), { threads });
  const loadS = (performance.now() - t0) / 1000;
  const rssLoaded = rssMb();
  const ctx: Ctx = { rec, g2p, cache: new Map() };
  log(`models loaded in ${loadS.toFixed(1)} s; ${clips.length} clips`);

  try {
    // Frames of every clip, computed once.
    const data: { clip: Clip; words: string[]; lp: LogProbMatrix }[] = [];
    let rssFirst = 0;
    for (const clip of clips) {
      const { pcm } = await decodeFile(clip.path);
      const lp = await rec.logProbs(pcm);
      data.push({ clip, words: referenceWords(clip.reference), lp: { frames: lp.frames, frameCount: lp.frameCount, vocabSize: lp.vocab.length } });
      if (rssFirst === 0) {
        await score(ctx, data[0].lp, data[0].words);
        rssFirst = rssMb();
      }
    }

    // 1. Matched vs mismatched.
    const order = data.map((_, i) => i).sort((x, y) => data[x].clip.durationS - data[y].clip.durationS || (data[x].clip.file < data[y].clip.file ? -1 : 1));
    const partner = new Map<number, number>();
    order.forEach((idx, k) => partner.set(idx, order[k % 2 === 0 ? (k + 1 < order.length ? k + 1 : k - 1) : k - 1]));
    const pairs: { file: string; partner: string; matched: number; mismatched: number }[] = [];
    let tooShort = 0;
    for (let i = 0; i < data.length; i++) {
      const own = await score(ctx, data[i].lp, data[i].words);
      const other = await score(ctx, data[i].lp, data[partner.get(i) as number].words);
      if (other === null) tooShort++;
      pairs.push({
        file: data[i].clip.file,
        partner: data[partner.get(i) as number].clip.file,
        matched: own?.utterance ?? -Infinity,
        mismatched: other?.utterance ?? -Infinity,
      });
    }
    const aucValue = auc(
      pairs.map((p) => p.matched),
      pairs.map((p) => p.mismatched),
    );
    const pairedWins = pairs.filter((p) => p.matched > p.mismatched).length;

    // 2. One word swapped.
    const contentOf = data.map((d) => [...new Set(d.words.filter(isContent))]);
    const swaps: { file: string; from: string; to: string; at: number; lowest: boolean; lowestWord: string | null; rank: number; words: number; swappedScore: number; minOther: number }[] = [];
    let noSwap = 0;
    for (let i = 0; i < data.length; i++) {
      const rand = mulberry32(seed ^ hash(data[i].clip.file));
      const candidates = data[i].words.flatMap((w, k) => (isContent(w) ? [k] : []));
      const own = new Set(data[i].words);
      const pool = [...new Set(contentOf.flatMap((ws, j) => (j === i ? [] : ws)))].filter((w) => !own.has(w)).sort();
      if (candidates.length === 0 || pool.length === 0) {
        noSwap++;
        continue;
      }
      const at = candidates[Math.floor(rand() * candidates.length)];
      const to = pool[Math.floor(rand() * pool.length)];
      const words = data[i].words.map((w, k) => (k === at ? to : w));
      const s = await score(ctx, data[i].lp, words);
      if (s === null) {
        noSwap++;
        continue;
      }
      const scored = s.words.map((w, k) => ({ k, score: w.score })).filter((w) => Number.isFinite(w.score));
      const swappedScore = s.words[at].score;
      const others = scored.filter((w) => w.k !== at).map((w) => w.score);
      const minOther = others.length > 0 ? Math.min(...others) : Infinity;
      const lowestOther = scored.find((w) => w.k !== at && w.score === minOther);
      const lowestWord = lowestOther ? words[lowestOther.k] : null;
      const rank = 1 + others.filter((x) => x <= swappedScore).length;
      swaps.push({ file: data[i].clip.file, from: data[i].words[at], to, at, lowest: swappedScore < minOther, lowestWord, rank, words: scored.length, swappedScore, minOther });
    }
    const swapRate = swaps.filter((s) => s.lowest).length / swaps.length;

    // 3. Cost on clips of about 5 s.
    const costClips = data.filter((d) => d.clip.durationS >= 4 && d.clip.durationS <= 6);
    const times: number[] = [];
    for (const d of costClips) {
      const { pcm } = await decodeFile(d.clip.path);
      for (let r = 0; r <= costRuns; r++) {
        const t = performance.now();
        const lp = await rec.logProbs(pcm);
        await score(ctx, { frames: lp.frames, frameCount: lp.frameCount, vocabSize: lp.vocab.length }, d.words, false);
        if (r > 0) times.push(performance.now() - t);
      }
    }
    const rssEnd = rssMb();

    const checks: Check[] = [
      { name: 'matched vs mismatched AUC', value: fixed(aucValue), target: `>= ${AUC_TARGET}`, status: aucValue >= AUC_TARGET ? 'PASS' : 'FAIL' },
      { name: 'swapped word lowest', value: pct(swapRate), target: `>= ${pct(SWAP_TARGET, 0)}`, status: swapRate >= SWAP_TARGET ? 'PASS' : 'FAIL' },
    ];
    const result = {
      kind: 'sori-assessment',
      date: new Date().toISOString(),
      selection: { lang: 'en', maxS, clips: clips.length },
      models: { recogniser: 'hama 1.3.13 asr_waveform_fp16.onnx', g2p: 'hama 1.3.13 encoder + decoder_step', threads },
      normalisation: REFERENCE_NORMALISATION,
      definitions: {
        utterance: 'mean GOP over all target phonemes (word boundaries aligned, not scored)',
        word: 'mean GOP over the word’s phonemes',
        gop: 'per phoneme: mean over its aligned frames of log P(target) - max log P(other phoneme), blank and specials excluded',
        pairing: 'clips sorted by duration, neighbours paired (0-1, 2-3, ...)',
      },
      seed,
      machine: machineInfo(),
      matched: { auc: round(aucValue, 4), pairedWins, clips: pairs.length, mismatchedTooShort: tooShort, pairs: pairs.map((p) => ({ ...p, matched: round(p.matched, 3), mismatched: round(p.mismatched, 3) })) },
      swapped: {
        rate: round(swapRate, 4),
        clips: swaps.length,
        skipped: noSwap,
        swaps: swaps.map((s) => ({ ...s, swappedScore: round(s.swappedScore, 3), minOther: round(s.minOther, 3) })),
      },
      cost: {
        clips: costClips.map((d) => d.clip.file),
        runs: times.length,
        p50Ms: round(percentile(times, 50), 1),
        p95Ms: round(percentile(times, 95), 1),
        loadS: round(loadS, 2),
        rssMb: { before: round(rss0, 1), afterLoad: round(rssLoaded, 1), afterFirstScore: round(rssFirst, 1), end: round(rssEnd, 1) },
      },
      checks,
    };
    const path = writeLatest('assessment', result);
    if (a.json) {
      console.log(JSON.stringify(result));
      return;
    }
    console.log(`Pronunciation assessment: ${clips.length} English clips with a reference, <= ${maxS} s; seed ${seed}; ${threads} thread(s)`);
    console.log(`reference text: ${REFERENCE_NORMALISATION}`);
    console.log('utterance score = mean GOP over the target phonemes; word score = mean GOP over the word’s phonemes');
    if (a.verbose) {
      console.log('\n' + formatTable(
        ['clip', 'matched', 'mismatched (partner)', 'swap', 'swapped', 'lowest other', 'rank'],
        pairs.map((p) => {
          const s = swaps.find((x) => x.file === p.file);
          return [basename(p.file), fixed(p.matched, 2), `${fixed(p.mismatched, 2)} (${basename(p.partner)})`, s ? `${s.from}->${s.to}` : '-', fixed(s?.swappedScore, 2), s ? `${fixed(s.minOther, 2)} ${s.lowestWord ?? ''}` : '-', s ? `${s.rank}/${s.words}` : '-'];
        }),
      ));
    }
    console.log(
      '\n' +
        formatTable(
          ['measure', 'value', 'target', 'status', 'n'],
          [
            ['matched vs mismatched AUC', fixed(aucValue), `>= ${AUC_TARGET}`, checks[0].status, `${pairs.length}+${pairs.length}`],
            ['clip above its own mismatch', pct(pairedWins / pairs.length), '', 'info', pairs.length],
            ['swapped word lowest', pct(swapRate), `>= ${pct(SWAP_TARGET, 0)}`, checks[1].status, swaps.length],
            ['score a ~5 s clip p50 ms', fixed(percentile(times, 50), 0), '', 'info', times.length],
            ['score a ~5 s clip p95 ms', fixed(percentile(times, 95), 0), '', 'info', times.length],
            ['RSS growth, models loaded MB', fixed(rssLoaded - rss0, 0), '', 'info', ''],
            ['RSS growth, after first score MB', fixed(rssFirst - rss0, 0), '', 'info', ''],
          ],
        ),
    );
    if (tooShort > 0) console.log(`(${tooShort} mismatched targets too long for their clip: scored -Infinity)`);
    if (noSwap > 0) console.log(`(${noSwap} clips without a swappable content word or alignment: left out of the swap rate)`);
    console.log(`\nwritten: ${path}`);
  } finally {
    await g2p.close();
    await rec.close();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
