/**
 * Pronunciation assessment (issue 16), English, in-process: the hama phoneme recogniser, the G2P
 * and the forced alignment + scores of src/speech/phonemes/score.ts (raw) and calibration.ts
 * (0-100) on the testdata clips that have a reference (English, <= 30 s by default).
 *
 *   SORI_MODELS_DIR=/work/shared/models node --import tsx bench/assessment.ts [--max-s 30] [--seed 16]
 *     [--swap-seeds 1-40] [--synthetic-cases 120] [--cost-runs 10] [--threads 1] [--json] [--verbose]
 *
 * 1. Matched vs mismatched: each clip scored against its own reference and against the reference
 *    of its neighbour by duration (clips sorted by duration, paired 0-1, 2-3, ...; an odd last one
 *    pairs with the one before). Utterance score = the raw utterance score (mean over the target's
 *    phonemes of their log-likelihood ratio against a free loop). AUC = probability that a matched
 *    score is above a mismatched one (over every matched x mismatched pair, ties counting half); a
 *    mismatched target the clip is too short for scores -Infinity. Also the AUC of the 0-100
 *    utterance score (the mean of the words' 0-100).
 * 2. One word swapped: in each clip's reference, one content word (>= 4 letters, not a stop word,
 *    no digits), chosen with a PRNG seeded by the seed and the file name, is replaced by a content
 *    word of another clip's reference (same PRNG, from the pool of all other clips' content words
 *    not in this reference). Word score = the raw word score (mean of its two lowest phoneme
 *    scores). Rate = share of clips where the swapped word has the lowest word score of the
 *    utterance. The checked rate is over --swap-seeds (17 clips x 40 seeds = 680 swaps): one
 *    seed's 17 draws swing the rate by +-15 points; the --seed figure alone is shown too. No swap
 *    is excluded (a near-identical replacement, phoneme edit distance <= 1, never occurred).
 * 3. Synthetic mispronunciations (bench/assessment-synthetic.ts): one phoneme of one word replaced
 *    in the IPA the Piper voice renders; rate = the replaced phoneme scores below the word's other
 *    phonemes.
 * 4. Cost: time to score each clip of 4-6 s (recogniser + G2P of each word, uncached + alignment
 *    + scores + 0-100; audio decoding excluded), --cost-runs times after a warm-up; RSS growth
 *    after loading the two models, and after the first scoring.
 */
import { parseArgs } from 'node:util';
import { basename } from 'node:path';
import { decodeFile } from '../src/media/decode.js';
import { loadG2p } from '../src/speech/phonemes/g2p.js';
import { loadPhonemeRecogniser } from '../src/speech/phonemes/recogniser.js';
import type { LogProbMatrix } from '../src/speech/phonemes/alignment.js';
import { REFERENCE_NORMALISATION, scorePronunciation, type PronunciationScore } from '../src/speech/phonemes/score.js';
import { PHONEME_CALIBRATION, WORD_CALIBRATION, percentScores } from '../src/speech/phonemes/calibration.js';
import { loadManifest, manifestPath, selectClips } from './lib/manifest.js';
import { modelsDir, testdataDir } from './lib/paths.js';
import { fixed, formatTable, pct } from './lib/table.js';
import { machineInfo, writeLatest, type Check } from './lib/output.js';
import { log } from './lib/progress.js';
import { median, percentile, round } from './lib/stats.js';
import { auc, clipFrames, partners, swapFor, wordIds, type ClipData, type Ctx } from './assessment-common.js';
import { runSynthetic } from './assessment-synthetic.js';
import { helpOnRequest } from './lib/help.js';

helpOnRequest(import.meta.url);

const { values: a } = parseArgs({
  options: {
    'max-s': { type: 'string', default: '30' },
    seed: { type: 'string', default: '16' },
    'swap-seeds': { type: 'string', default: '1-40' },
    'synthetic-cases': { type: 'string', default: '120' },
    'cost-runs': { type: 'string', default: '10' },
    threads: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
    verbose: { type: 'boolean', short: 'v', default: false },
  },
});

const AUC_TARGET = 0.98;
const SWAP_TARGET = 0.9;
const SYNTHETIC_TARGET = 0.8;

export { auc };

async function score(ctx: Ctx, lp: LogProbMatrix, words: readonly string[], cached = true): Promise<PronunciationScore | null> {
  return scorePronunciation(lp, await wordIds(ctx, words, cached), { blank: ctx.rec.blank, wordBoundary: ctx.rec.wordBoundary, notCompetitors: ctx.rec.nonPhonemes });
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
    const data: ClipData[] = [];
    let rssFirst = 0;
    for (const clip of clips) {
      data.push(await clipFrames(rec, clip));
      if (rssFirst === 0) {
        await score(ctx, data[0].lp, data[0].words);
        rssFirst = rssMb();
      }
    }

    // 1. Matched vs mismatched.
    const partner = partners(data);
    const pairs: { file: string; partner: string; matched: number; mismatched: number; matchedPercent: number; mismatchedPercent: number }[] = [];
    const matchedWordPercents: number[] = [];
    let tooShort = 0;
    for (let i = 0; i < data.length; i++) {
      const own = await score(ctx, data[i].lp, data[i].words);
      const other = await score(ctx, data[i].lp, data[partner.get(i) as number].words);
      if (other === null) tooShort++;
      const ownPc = own ? percentScores(own.words.map((w) => w.phonemes)) : null;
      if (own && ownPc) ownPc.words.forEach((p, k) => (own.words[k].phonemes.length > 0 ? matchedWordPercents.push(p) : null));
      pairs.push({
        file: data[i].clip.file,
        partner: data[partner.get(i) as number].clip.file,
        matched: own?.utterance ?? -Infinity,
        mismatched: other?.utterance ?? -Infinity,
        matchedPercent: ownPc?.utterance ?? 0,
        mismatchedPercent: other ? percentScores(other.words.map((w) => w.phonemes)).utterance : 0,
      });
    }
    const aucValue = auc(
      pairs.map((p) => p.matched),
      pairs.map((p) => p.mismatched),
    );
    const aucPercent = auc(
      pairs.map((p) => p.matchedPercent),
      pairs.map((p) => p.mismatchedPercent),
    );
    const pairedWins = pairs.filter((p) => p.matched > p.mismatched).length;

    // 2. One word swapped, over many seeds; the --seed ones listed.
    const [s0, s1] = (a['swap-seeds'] ?? '1-40').split('-').map(Number);
    const swapSeeds = Array.from({ length: s1 - s0 + 1 }, (_, k) => s0 + k);
    if (!swapSeeds.includes(seed)) swapSeeds.push(seed);
    const swaps: { seed: number; file: string; from: string; to: string; at: number; lowest: boolean; lowestWord: string | null; rank: number; words: number; swappedScore: number; minOther: number; swappedPercent: number }[] = [];
    let noSwap = 0;
    for (const sd of swapSeeds) {
      for (let i = 0; i < data.length; i++) {
        const sw = swapFor(data, i, sd);
        const s = sw ? await score(ctx, data[i].lp, sw.words) : null;
        if (sw === null || s === null) {
          if (sd === seed) noSwap++;
          continue;
        }
        const { at } = sw;
        const scored = s.words.map((w, k) => ({ k, score: w.score })).filter((w) => Number.isFinite(w.score));
        const swappedScore = s.words[at].score;
        const others = scored.filter((w) => w.k !== at).map((w) => w.score);
        const minOther = others.length > 0 ? Math.min(...others) : Infinity;
        const lowestOther = scored.find((w) => w.k !== at && w.score === minOther);
        const rank = 1 + others.filter((x) => x <= swappedScore).length;
        const swappedPercent = percentScores(s.words.map((w) => w.phonemes)).words[at];
        swaps.push({ seed: sd, file: data[i].clip.file, from: sw.from, to: sw.to, at, lowest: swappedScore < minOther, lowestWord: lowestOther ? sw.words[lowestOther.k] : null, rank, words: scored.length, swappedScore, minOther, swappedPercent });
      }
    }
    const inRange = swaps.filter((s) => s.seed >= s0 && s.seed <= s1);
    const swapRate = inRange.filter((s) => s.lowest).length / inRange.length;
    const seedSwaps = swaps.filter((s) => s.seed === seed);
    const seedRate = seedSwaps.filter((s) => s.lowest).length / seedSwaps.length;

    // 3. Synthetic mispronunciations.
    const syntheticCases = Number(a['synthetic-cases']);
    const synthetic = syntheticCases > 0 ? await runSynthetic(ctx, modelsDir(), clips.map((c) => c.reference), { cases: syntheticCases, seed }) : null;

    // 4. Cost on clips of about 5 s.
    const costClips = data.filter((d) => d.clip.durationS >= 4 && d.clip.durationS <= 6);
    const times: number[] = [];
    for (const d of costClips) {
      const { pcm } = await decodeFile(d.clip.path);
      for (let r = 0; r <= costRuns; r++) {
        const t = performance.now();
        const lp = await rec.logProbs(pcm);
        const s = await score(ctx, { frames: lp.frames, frameCount: lp.frameCount, vocabSize: lp.vocab.length }, d.words, false);
        if (s) percentScores(s.words.map((w) => w.phonemes));
        if (r > 0) times.push(performance.now() - t);
      }
    }
    const rssEnd = rssMb();

    const checks: Check[] = [
      { name: 'matched vs mismatched AUC', value: fixed(aucValue), target: `>= ${AUC_TARGET}`, status: aucValue >= AUC_TARGET ? 'PASS' : 'FAIL' },
      { name: `swapped word lowest, seeds ${s0}-${s1}`, value: pct(swapRate), target: `>= ${pct(SWAP_TARGET, 0)}`, status: swapRate >= SWAP_TARGET ? 'PASS' : 'FAIL' },
    ];
    if (synthetic) {
      checks.push({ name: 'synthetic: replaced phoneme lowest of its word', value: pct(synthetic.rate), target: `>= ${pct(SYNTHETIC_TARGET, 0)}`, status: synthetic.rate >= SYNTHETIC_TARGET ? 'PASS' : 'FAIL' });
    }
    const result = {
      kind: 'sori-assessment',
      date: new Date().toISOString(),
      selection: { lang: 'en', maxS, clips: clips.length },
      models: { recogniser: 'hama 1.3.13 asr_waveform_fp16.onnx', g2p: 'hama 1.3.13 encoder + decoder_step', tts: 'piper en_US-joe-medium, noise 0', threads },
      normalisation: REFERENCE_NORMALISATION,
      definitions: {
        phoneme: 'log-likelihood ratio against a free loop (every token) over the frames the phoneme owns: its aligned span and half the blank frames to each neighbouring phoneme of its word; <= 0',
        word: 'mean of its two lowest phoneme scores',
        utterance: 'mean over all target phonemes (word boundaries aligned, not scored)',
        percent: `logistic per level, 100 at a raw 0 (calibration.ts): phoneme ${JSON.stringify(PHONEME_CALIBRATION)}, word ${JSON.stringify(WORD_CALIBRATION)}; utterance = mean of the words' 0-100`,
        pairing: 'clips sorted by duration, neighbours paired (0-1, 2-3, ...)',
      },
      seed,
      machine: machineInfo(),
      matched: {
        auc: round(aucValue, 4),
        aucPercent: round(aucPercent, 4),
        pairedWins,
        clips: pairs.length,
        mismatchedTooShort: tooShort,
        matchedPercentMedian: median(pairs.map((p) => p.matchedPercent)),
        mismatchedPercentMedian: median(pairs.map((p) => p.mismatchedPercent)),
        matchedWordsAtLeast80: round(matchedWordPercents.filter((p) => p >= 80).length / matchedWordPercents.length, 4),
        pairs: pairs.map((p) => ({ ...p, matched: round(p.matched, 3), mismatched: round(p.mismatched, 3) })),
      },
      swapped: {
        seeds: [s0, s1],
        rate: round(swapRate, 4),
        cases: inRange.length,
        seedRate: round(seedRate, 4),
        seedCases: seedSwaps.length,
        skippedAtSeed: noSwap,
        swappedPercentMedian: median(inRange.map((s) => s.swappedPercent)),
        swaps: seedSwaps.map((s) => ({ ...s, swappedScore: round(s.swappedScore, 3), minOther: round(s.minOther, 3) })),
      },
      synthetic: synthetic && {
        cases: synthetic.cases.length,
        rate: round(synthetic.rate, 4),
        rateGop: round(synthetic.rateGop, 4),
        rateCleanOk: round(synthetic.rateCleanOk, 4),
        casesCleanOk: synthetic.casesCleanOk,
        cleanUtteranceMedian: synthetic.cleanUtteranceMedian,
        cleanWordsAbove80: round(synthetic.cleanWordsAbove80, 4),
        replacedPercentMedian: median(synthetic.cases.map((c) => c.replacedPercent)),
        list: synthetic.cases.map((c) => ({ ...c, replaced: round(c.replaced, 3), minOther: round(c.minOther, 3) })),
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
    console.log(`Pronunciation assessment: ${clips.length} English clips with a reference, <= ${maxS} s; seed ${seed}, swap seeds ${s0}-${s1}; ${threads} thread(s)`);
    console.log(`reference text: ${REFERENCE_NORMALISATION}`);
    console.log('phoneme = LLR vs a free loop over its frames; word = mean of its 2 lowest phonemes; utterance = mean over phonemes; 0-100 per calibration.ts');
    if (a.verbose) {
      console.log('\n' + formatTable(
        ['clip', 'matched', '0-100', 'mismatched (partner)', '0-100', `swap (seed ${seed})`, 'swapped', '0-100', 'lowest other', 'rank'],
        pairs.map((p) => {
          const s = seedSwaps.find((x) => x.file === p.file);
          return [basename(p.file), fixed(p.matched, 2), p.matchedPercent, `${fixed(p.mismatched, 2)} (${basename(p.partner)})`, p.mismatchedPercent, s ? `${s.from}->${s.to}` : '-', fixed(s?.swappedScore, 2), s?.swappedPercent ?? '-', s ? `${fixed(s.minOther, 2)} ${s.lowestWord ?? ''}` : '-', s ? `${s.rank}/${s.words}` : '-'];
        }),
      ));
      if (synthetic) {
        console.log('\n' + formatTable(
          ['synthetic: word', 'phoneme', 'replaced', 'min other', 'detected', 'phoneme 0-100', 'word 0-100', 'clean word 0-100'],
          synthetic.cases.map((c) => [c.word, `${c.phoneme}: ${c.from}->${c.to}`, fixed(c.replaced, 2), fixed(c.minOther, 2), c.detected ? 'yes' : 'no', c.replacedPercent, c.wordPercent, c.cleanWordPercent]),
        ));
      }
    }
    const rows: (string | number)[][] = [
      ['matched vs mismatched AUC (raw)', fixed(aucValue), `>= ${AUC_TARGET}`, checks[0].status, `${pairs.length}+${pairs.length}`],
      ['matched vs mismatched AUC (0-100)', fixed(aucPercent), '', 'info', `${pairs.length}+${pairs.length}`],
      ['clip above its own mismatch', pct(pairedWins / pairs.length), '', 'info', pairs.length],
      ['utterance 0-100, matched / mismatched median', `${median(pairs.map((p) => p.matchedPercent))} / ${median(pairs.map((p) => p.mismatchedPercent))}`, '', 'info', pairs.length],
      ['words of matched clips at >= 80', pct(matchedWordPercents.filter((p) => p >= 80).length / matchedWordPercents.length), '', 'info', matchedWordPercents.length],
      [`swapped word lowest, seeds ${s0}-${s1}`, pct(swapRate), `>= ${pct(SWAP_TARGET, 0)}`, checks[1].status, inRange.length],
      [`swapped word lowest, seed ${seed} alone`, pct(seedRate), '', 'info', seedSwaps.length],
      ['swapped word 0-100, median', fixed(median(inRange.map((s) => s.swappedPercent)), 0), '', 'info', inRange.length],
    ];
    if (synthetic) {
      rows.push(
        ['synthetic: replaced phoneme lowest of its word', pct(synthetic.rate), `>= ${pct(SYNTHETIC_TARGET, 0)}`, checks[2].status, synthetic.cases.length],
        ['synthetic, same with GOP', pct(synthetic.rateGop), '', 'info', synthetic.cases.length],
        ['synthetic, words the clean render scores >= 80', pct(synthetic.rateCleanOk), '', 'info', synthetic.casesCleanOk],
        ['synthetic: clean renders, utterance 0-100 median', fixed(synthetic.cleanUtteranceMedian, 0), '', 'info', ''],
        ['synthetic: replaced phoneme 0-100 median', fixed(median(synthetic.cases.map((c) => c.replacedPercent)), 0), '', 'info', synthetic.cases.length],
      );
    }
    rows.push(
      ['score a ~5 s clip p50 ms', fixed(percentile(times, 50), 0), '<= 150', 'info', times.length],
      ['score a ~5 s clip p95 ms', fixed(percentile(times, 95), 0), '', 'info', times.length],
      ['RSS growth, models loaded MB', fixed(rssLoaded - rss0, 0), '', 'info', ''],
      ['RSS growth, after first score MB', fixed(rssFirst - rss0, 0), '<= 150', 'info', ''],
    );
    console.log('\n' + formatTable(['measure', 'value', 'target', 'status', 'n'], rows));
    if (tooShort > 0) console.log(`(${tooShort} mismatched targets too long for their clip: scored -Infinity)`);
    if (noSwap > 0) console.log(`(${noSwap} clips without a swappable content word or alignment at seed ${seed}: left out of the swap rate)`);
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
