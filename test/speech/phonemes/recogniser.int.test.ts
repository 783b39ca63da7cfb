import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { decodeFile } from '../../../src/media/decode.js';
import { SAMPLE_RATE } from '../../../src/audio.js';
import {
  loadPhonemeRecogniser,
  phonemeIds,
  HAMA_BLANK_BIAS,
  PHONEME_FRAME_SECONDS,
  type PhonemeLogProbs,
  type PhonemeRecogniser,
} from '../../../src/speech/phonemes/recogniser.js';
import { forcedAlign, goodnessOfPronunciation, greedyCtcDecode, type LogProbMatrix } from '../../../src/speech/phonemes/alignment.js';
import { modelsDir, testdataDir } from '../../helpers/media-fixtures.js';

// Hand-written IPA (General American, in the recogniser's spelling) for the few words used here;
// the G2P comes later.
const IPA: Record<string, string> = {
  and: 'æ n d', so: 's oʊ', my: 'm aɪ', fellow: 'f ɛ l oʊ', americans: 'ə m ɛ ɹ ɪ k ə n z',
  ask: 'æ s k', not: 'n ɑ t', what: 'w ʌ t', your: 'j ɔ ɹ', country: 'k ʌ n t ɹ i', can: 'k æ n',
  do: 'd u', for: 'f ɔ ɹ', you: 'j u',
  the: 'ð ə', big: 'b ɪ ɡ', dog: 'd ɔ ɡ', ran: 'ɹ æ n', quickly: 'k w ɪ k l i', over: 'oʊ v ɚ',
  green: 'ɡ ɹ i n', hill: 'h ɪ l', to: 't u', find: 'f aɪ n d', his: 'h ɪ z', old: 'oʊ l d',
  red: 'ɹ ɛ d', ball: 'b ɔ l', while: 'w aɪ l', she: 'ʃ i', sang: 's æ ŋ', loud: 'l aʊ d',
  money: 'm ʌ n i', tomorrow: 't ə m ɑ ɹ oʊ', morning: 'm ɔ ɹ n ɪ ŋ',
};
const JFK = 'and so my fellow americans ask not what your country can do for you ask what you can do for your country';
const WRONG = 'the big dog ran quickly over the green hill to find his old red ball while she sang loud to the dog';

let rec: PhonemeRecogniser;
let jfk: PhonemeLogProbs;
let loadMs = 0;
let inferMs = 0;

before(async () => {
  let t0 = performance.now();
  rec = await loadPhonemeRecogniser(modelsDir(), { threads: 1 });
  loadMs = performance.now() - t0;
  const { pcm } = await decodeFile(join(testdataDir(), 'en/jfk.flac'));
  await rec.logProbs(pcm); // warm-up
  t0 = performance.now();
  jfk = await rec.logProbs(pcm);
  inferMs = performance.now() - t0;
});
after(() => rec?.close());

const matrixOf = (lp: PhonemeLogProbs): LogProbMatrix => ({ frames: lp.frames, frameCount: lp.frameCount, vocabSize: lp.vocab.length });

/** Target ids for `text` (a word boundary between words, as the recogniser writes them) and which ones are phonemes. */
function targetsOf(text: string): { ids: number[]; word: number[] } {
  const ids: number[] = [];
  const word: number[] = [];
  text.split(' ').forEach((w, i) => {
    if (i > 0) {
      ids.push(rec.wordBoundary);
      word.push(-1);
    }
    const phones = phonemeIds(rec.vocab, (IPA[w] ?? assert.fail(`no IPA for ${w}`)).split(' '));
    ids.push(...phones);
    word.push(...phones.map(() => i));
  });
  return { ids, word };
}

/** GOP of every phoneme of `text` on `lp` (word boundaries aligned but not scored), and per-word means. */
function score(lp: PhonemeLogProbs, text: string): { phones: number[]; words: number[] } {
  const m = matrixOf(lp);
  const { ids, word } = targetsOf(text);
  const a = forcedAlign(m, ids, lp.blank);
  assert.ok(a, 'aligned');
  const gop = goodnessOfPronunciation(m, ids, a.spans, { notCompetitors: rec.nonPhonemes });
  const phones = gop.filter((_, i) => word[i] >= 0);
  const words = text.split(' ').map((_, w) => mean(gop.filter((_, i) => word[i] === w)));
  return { phones, words };
}
function editDistance(a: readonly number[], b: readonly number[]): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length];
}
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

test('the token inventory: 189 G2P tokens, then the word boundary and the blank', (t) => {
  assert.equal(rec.vocab.length, 191);
  assert.equal(rec.vocab[rec.wordBoundary], '<wb>');
  assert.equal(rec.wordBoundary, 189);
  assert.equal(rec.blank, 190);
  assert.equal(jfk.blank, 190);
  for (const p of ['ɹ', 'ɑ', 'æ', 'ʌ', 'oʊ', 'aɪ', 'ŋ', 'ʃ', 'θ', 'ð']) assert.ok(!rec.nonPhonemes.includes(rec.vocab.indexOf(p)), p);
  for (const s of ['<pad>', '<unk>', ' ', '<wb>', '<blank>']) assert.ok(rec.nonPhonemes.includes(rec.vocab.indexOf(s)), s);
  t.diagnostic(`${rec.vocab.length - rec.nonPhonemes.length} phoneme tokens, ${rec.nonPhonemes.length} others`);
});

test('greedy decoding of jfk.flac reads "ask not what your country can do for you"', (t) => {
  t.diagnostic(`load ${loadMs.toFixed(0)} ms, inference on 11 s ${inferMs.toFixed(0)} ms (1 thread)`);
  // 20 ms frames: 11 s -> 550 frames.
  assert.ok(Math.abs(jfk.frameCount * PHONEME_FRAME_SECONDS - 11) < 0.1, `${jfk.frameCount} frames`);
  for (let i = 0; i < jfk.frameCount; i += 50) {
    const row = jfk.frames.subarray(i * 191, (i + 1) * 191);
    const total = row.reduce((a, v) => a + Math.exp(v), 0);
    assert.ok(Math.abs(total - 1) < 1e-3, `frame ${i} sums to ${total}`);
  }
  const ids = greedyCtcDecode(matrixOf(jfk), jfk.blank, HAMA_BLANK_BIAS);
  const text = ids.map((id) => (id === rec.wordBoundary ? '|' : jfk.vocab[id])).join(' ');
  t.diagnostic(text);
  // Loosely: the phonemes read are close to the sentence's (hama's README gives a phoneme error
  // rate of 0.01-0.10 on clean read speech; this 1961 recording is not), and the middle of the
  // phrase comes out word for word.
  const read = ids.filter((id) => !rec.nonPhonemes.includes(id));
  const truth = targetsOf(JFK).ids.filter((id) => id !== rec.wordBoundary);
  const per = editDistance(read, truth) / truth.length;
  t.diagnostic(`phoneme error rate against hand-written IPA: ${per.toFixed(3)}`);
  assert.ok(per < 0.4, `PER ${per}`);
  assert.ok(text.includes('n ɑ t |'), 'not');
  assert.ok(text.includes('k ʌ n t ɹ i | k æ n | d u | f ɔ ɹ | j u'), 'country can do for you');
});

test('the true words score higher than a wrong sentence of similar length; a swapped word scores lowest', (t) => {
  const right = score(jfk, JFK);
  const wrong = score(jfk, WRONG);
  t.diagnostic(`mean GOP: true ${mean(right.phones).toFixed(2)} (${right.phones.length} phonemes), wrong ${mean(wrong.phones).toFixed(2)} (${wrong.phones.length})`);
  assert.ok(Math.abs(right.phones.length - wrong.phones.length) <= 10);
  assert.ok(mean(right.phones) > mean(wrong.phones) + 2, 'true sentence well above the wrong one');
  assert.ok(right.words.every((w) => w > mean(wrong.phones)), right.words.map((w) => w.toFixed(1)).join(' '));
  // "country" (the second) replaced by "money": that word is the utterance's lowest.
  const swapped = JFK.split(' ');
  swapped[10] = 'money';
  const s = score(jfk, swapped.join(' '));
  t.diagnostic(`per word with "money": ${s.words.map((w, i) => `${swapped[i]} ${w.toFixed(1)}`).join(', ')}`);
  assert.equal(s.words.indexOf(Math.min(...s.words)), 10);
});

test('short and silent input give a few frames without failing; alignment of too much text is refused', async () => {
  const short = await rec.logProbs(new Float32Array(400));
  assert.ok(short.frameCount >= 1 && short.frameCount <= 10, `${short.frameCount}`);
  const silence = await rec.logProbs(new Float32Array(SAMPLE_RATE));
  assert.ok(Math.abs(silence.frameCount - 50) <= 1);
  const heard = greedyCtcDecode(matrixOf(silence), silence.blank, HAMA_BLANK_BIAS);
  assert.deepEqual(heard.filter((id) => !rec.nonPhonemes.includes(id)), [], 'no phoneme in silence');
  assert.equal(forcedAlign(matrixOf(short), targetsOf(JFK).ids, short.blank), null);
});
