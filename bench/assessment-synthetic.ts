/**
 * Synthetic mispronunciations (issue 16, English): sentences of the English testdata references
 * rendered by the Piper voice (tts-piper-en-joe) from IPA in which exactly one phoneme of one word
 * is replaced by another, then scored against the correct text. A case is detected when the
 * replaced phoneme's raw score is below every other phoneme of its word.
 *
 *   SORI_MODELS_DIR=/work/shared/models node --import tsx bench/assessment-synthetic.ts [--cases 120] [--seed 16] [--verbose]
 *
 * How the index of the replaced phoneme is known: the IPA rendered is the G2P's own phoneme
 * sequence (hama's tokens, the same the scorer aligns) of each word, words separated by spaces,
 * with a primary stress mark before each word's first vowel; the one replaced token is at a known
 * index of the target. Spellings Piper's phoneme map lacks are rewritten for rendering only
 * (`ɝ` -> `ɜː`, the tie bar of `t͡ʃ`/`d͡ʒ` dropped; the map drops code points it does not know).
 * The voice runs with its noise scales at 0, so a render is deterministic.
 *
 * Cases (PRNG `mulberry32(seed)`): a sentence (<= 25 words) of a random English clip's reference,
 * a random word of it with >= 3 phonemes, a random phoneme of that word that is a vowel or a
 * consonant (not a modifier token), replaced by a random other phoneme of the same class (vowel by
 * vowel, consonant by consonant) from the English inventory below. Clean renders of the same
 * sentences are scored too (how the recogniser hears the voice).
 */
import { parseArgs } from 'node:util';
import { SAMPLE_RATE } from '../src/audio.js';
import { resample } from '../src/media/resample.js';
import { loadPiperVoice } from '../src/speech/tts/piper.js';
import { splitSentences } from '../src/speech/tts/phonemize.js';
import type { LogProbMatrix } from '../src/speech/phonemes/alignment.js';
import { referenceWords, scorePronunciation, type ScoreTokens } from '../src/speech/phonemes/score.js';
import { percentScores } from '../src/speech/phonemes/calibration.js';
import { mulberry32 } from '../src/speech/whisper/search.js';
import type { Ctx } from './assessment-common.js';
import { wordPhonemes } from './assessment-common.js';
import { helpOnRequest } from './lib/help.js';
import { median } from './lib/stats.js';

/** English vowels and consonants as hama's G2P writes them (its inventory on the testdata references). */
export const VOWELS = ['i', 'ɪ', 'eɪ', 'ɛ', 'æ', 'ɑ', 'ɔ', 'oʊ', 'ʊ', 'u', 'ʌ', 'ə', 'ɝ', 'aɪ', 'aʊ', 'ɔɪ'];
export const CONSONANTS = ['p', 'b', 't', 'd', 'k', 'ɡ', 'f', 'v', 'θ', 'ð', 's', 'z', 'ʃ', 'ʒ', 'h', 't͡ʃ', 'd͡ʒ', 'm', 'n', 'ŋ', 'l', 'ɹ', 'w', 'j'];

/** hama's IPA for one token as the Piper voice should get it. */
function forPiper(token: string): string {
  return token.replace('ɝ', 'ɜː').replace('\u0361', '');
}

/** The IPA Piper renders for `words` (each a list of hama tokens). */
export function renderIpa(words: readonly (readonly string[])[]): string {
  return (
    words
      .map((w) => {
        const firstVowel = w.findIndex((t) => VOWELS.includes(t));
        return w.map((t, k) => (k === firstVowel ? 'ˈ' : '') + forPiper(t)).join('');
      })
      .join(' ') + '.'
  );
}

export interface SyntheticCase {
  sentence: string;
  word: string;
  /** Index of the word in the sentence, and of the replaced phoneme in the word. */
  at: number;
  phoneme: number;
  from: string;
  to: string;
  /** The replaced phoneme's raw score and the lowest of the word's other phonemes. */
  replaced: number;
  minOther: number;
  detected: boolean;
  /** The same with GOP instead of the raw score (for comparison). */
  detectedGop: boolean;
  /** 0-100 of the replaced phoneme and of the word. */
  replacedPercent: number;
  wordPercent: number;
  /** 0-100 of the same word in the clean render. */
  cleanWordPercent: number;
}

export interface SyntheticResult {
  cases: SyntheticCase[];
  rate: number;
  rateGop: number;
  /** The rate over the cases whose word the voice renders recognisably (clean render's word >= 80). */
  rateCleanOk: number;
  casesCleanOk: number;
  /** Clean renders: the utterance's 0-100, median, and the share of their words at >= 80. */
  cleanUtteranceMedian: number;
  cleanWordsAbove80: number;
  skipped: number;
}

interface Voice {
  render(ipa: string): Promise<Float32Array>;
  close(): Promise<void>;
}

async function loadVoice(modelsDir: string): Promise<Voice> {
  const piper = await loadPiperVoice(modelsDir, { threads: 1 });
  const rate = piper.config.sampleRate;
  return {
    async render(ipa) {
      // Noise off: the same IPA always renders the same waveform.
      const pcm = await piper.synthesizeIpa(ipa, { deterministic: true });
      // 0.2 s of silence either side, as a recording would have.
      const padded = new Float32Array(pcm.length + Math.round(0.4 * rate));
      padded.set(pcm, Math.round(0.2 * rate));
      return resample(padded, rate, SAMPLE_RATE);
    },
    close: () => piper.close(),
  };
}

export async function runSynthetic(ctx: Ctx, modelsDir: string, references: readonly string[], { cases: n = 120, seed = 16 } = {}): Promise<SyntheticResult> {
  const voice = await loadVoice(modelsDir);
  const tokens: ScoreTokens = { blank: ctx.rec.blank, wordBoundary: ctx.rec.wordBoundary, notCompetitors: ctx.rec.nonPhonemes };
  const frames = async (pcm: Float32Array): Promise<LogProbMatrix> => {
    const lp = await ctx.rec.logProbs(pcm);
    return { frames: lp.frames, frameCount: lp.frameCount, vocabSize: lp.vocab.length };
  };
  const sentences = references.flatMap((r) => splitSentences(r)).map(referenceWords).filter((ws) => ws.length >= 2 && ws.length <= 25);
  const rand = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const cleanCache = new Map<string, { utterance: number; words: number[] }>();
  const out: SyntheticCase[] = [];
  let skipped = 0;
  try {
    for (let attempt = 0; out.length < n && attempt < n * 5; attempt++) {
      const words = pick(sentences);
      const phon = await Promise.all(words.map((w) => wordPhonemes(ctx, w)));
      const candidates = phon.flatMap((p, k) => (p.phonemes.length >= 3 ? [k] : []));
      if (candidates.length === 0) continue;
      const at = pick(candidates);
      const target = phon[at].phonemes;
      const slots = target.flatMap((t, k) => (VOWELS.includes(t) || CONSONANTS.includes(t) ? [k] : []));
      if (slots.length === 0) continue;
      const k = pick(slots);
      const from = target[k];
      const cls = VOWELS.includes(from) ? VOWELS : CONSONANTS;
      const to = pick(cls.filter((p) => p !== from));
      const ids = phon.map((p) => p.ids);
      const key = words.join(' ');
      let clean = cleanCache.get(key);
      if (clean === undefined) {
        const s = scorePronunciation(await frames(await voice.render(renderIpa(phon.map((p) => p.phonemes)))), ids, tokens);
        const pc = s ? percentScores(s.words.map((w) => w.phonemes)) : null;
        clean = { utterance: pc?.utterance ?? 0, words: pc?.words ?? words.map(() => 0) };
        cleanCache.set(key, clean);
      }
      const rendered = phon.map((p, j) => (j === at ? p.phonemes.map((t, i) => (i === k ? to : t)) : p.phonemes));
      const s = scorePronunciation(await frames(await voice.render(renderIpa(rendered))), ids, tokens);
      if (s === null) {
        skipped++;
        continue;
      }
      const w = s.words[at];
      const others = w.phonemes.filter((_, i) => i !== k);
      const othersGop = w.gop.filter((_, i) => i !== k);
      const pc = percentScores(s.words.map((x) => x.phonemes));
      out.push({
        sentence: key,
        word: words[at],
        at,
        phoneme: k,
        from,
        to,
        replaced: w.phonemes[k],
        minOther: Math.min(...others),
        detected: w.phonemes[k] < Math.min(...others),
        detectedGop: w.gop[k] < Math.min(...othersGop),
        replacedPercent: pc.phonemes[at][k],
        wordPercent: pc.words[at],
        cleanWordPercent: clean.words[at],
      });
    }
  } finally {
    await voice.close();
  }
  const cleanAll = [...cleanCache.values()];
  return {
    cases: out,
    rate: out.filter((c) => c.detected).length / out.length,
    rateGop: out.filter((c) => c.detectedGop).length / out.length,
    rateCleanOk: out.filter((c) => c.cleanWordPercent >= 80 && c.detected).length / out.filter((c) => c.cleanWordPercent >= 80).length,
    casesCleanOk: out.filter((c) => c.cleanWordPercent >= 80).length,
    cleanUtteranceMedian: median(cleanAll.map((c) => c.utterance)),
    cleanWordsAbove80: cleanAll.flatMap((c) => c.words).filter((p) => p >= 80).length / cleanAll.flatMap((c) => c.words).length,
    skipped,
  };
}

async function main(): Promise<void> {
  const { values: a } = parseArgs({ options: { cases: { type: 'string', default: '120' }, seed: { type: 'string', default: '16' }, verbose: { type: 'boolean', short: 'v', default: false } } });
  const { loadG2p } = await import('../src/speech/phonemes/g2p.js');
  const { loadPhonemeRecogniser } = await import('../src/speech/phonemes/recogniser.js');
  const { loadManifest, manifestPath, selectClips } = await import('./lib/manifest.js');
  const { modelsDir, testdataDir } = await import('./lib/paths.js');
  const { fixed, formatTable, pct } = await import('./lib/table.js');
  const td = testdataDir();
  const refs = selectClips(loadManifest(manifestPath(td)), td, { lang: 'en', maxS: 30 }).map((c) => c.reference);
  const rec = await loadPhonemeRecogniser(modelsDir());
  const g2p = await loadG2p(modelsDir());
  try {
    const r = await runSynthetic({ rec, g2p, cache: new Map() }, modelsDir(), refs, { cases: Number(a.cases), seed: Number(a.seed) });
    if (a.verbose) {
      console.log(formatTable(
        ['word', 'phoneme', 'replaced', 'min other', 'detected', 'phoneme %', 'word %', 'clean word %'],
        r.cases.map((c) => [c.word, `${c.phoneme}: ${c.from}->${c.to}`, fixed(c.replaced, 2), fixed(c.minOther, 2), c.detected ? 'yes' : 'no', c.replacedPercent, c.wordPercent, c.cleanWordPercent]),
      ));
    }
    console.log(`synthetic (Piper, one phoneme replaced): ${r.cases.length} cases, detected ${pct(r.rate)} (GOP: ${pct(r.rateGop)}; words the clean render scores >= 80: ${pct(r.rateCleanOk)} of ${r.casesCleanOk}); clean renders: utterance median ${fixed(r.cleanUtteranceMedian, 0)}, words >= 80: ${pct(r.cleanWordsAbove80)}`);
  } finally {
    await g2p.close();
    await rec.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  helpOnRequest(import.meta.url);
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(1);
  });
}
