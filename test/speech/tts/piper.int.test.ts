import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';

import { SAMPLE_RATE } from '../../../src/audio.js';
import { amplitudeEnvelope } from '../../../src/media/envelope.js';
import { alignReferenceGraph } from '../../../src/media/graph-alignment.js';
import { greedyCtcDecode } from '../../../src/speech/phonemes/alignment.js';
import { HAMA_BLANK_BIAS, loadPhonemeRecogniser } from '../../../src/speech/phonemes/recogniser.js';
import { phonemize } from '../../../src/speech/tts/phonemize.js';
import { loadPiperVoice, type PiperVoice } from '../../../src/speech/tts/piper.js';
import { modelsDir } from '../../helpers/media-fixtures.js';

const espeak = await promisify(execFile)('espeak-ng', ['--version']).then(
  () => true,
  () => false,
);
const skip = espeak ? false : 'espeak-ng not installed (scripts/install.sh installs it)';
const SENTENCE = 'Ask not what your country can do for you.';

let voice: PiperVoice;
let loadMs = 0;

before(async () => {
  if (skip) return;
  const t0 = performance.now();
  voice = await loadPiperVoice(modelsDir());
  loadMs = performance.now() - t0;
});

after(async () => {
  await voice?.close();
});

test('espeak-ng phonemizes sentences as Piper expects: no separators, clause commas, final punctuation', { skip }, async () => {
  const sentences = await phonemize(`${SENTENCE} And the rest, too! $(touch /tmp/x)`);
  assert.equal(sentences.length, 3);
  assert.equal(sentences[0].ipa, 'ˈæsk nˌɑːt wʌt jʊɹ kˈʌntɹi kæn dˈuː fɔːɹ juː.');
  assert.equal(sentences[1].ipa, 'ænd ðə ɹˈɛst, tˈuː!');
  // The text is an argument, never shell input: "$(...)" is read out as words.
  assert.match(sentences[2].ipa, /dˈɑːlɚ/);
});

test(`"${SENTENCE}" synthesises to 1.5-5 s of non-silent 16 kHz audio`, { skip }, async (t) => {
  const t0 = performance.now();
  const { pcm, voicePcm, voiceSampleRate, ipa } = await voice.synthesize(SENTENCE);
  const synthMs = performance.now() - t0;
  t.diagnostic(`voice load ${loadMs.toFixed(0)} ms, synthesis ${synthMs.toFixed(0)} ms, ${(pcm.length / SAMPLE_RATE).toFixed(2)} s, ipa ${ipa.join(' ')}`);

  assert.equal(voiceSampleRate, 22_050);
  const seconds = pcm.length / SAMPLE_RATE;
  assert.ok(seconds >= 1.5 && seconds <= 5, `${seconds} s`);
  assert.ok(Math.abs(seconds - voicePcm.length / voiceSampleRate) < 0.01, 'resampling keeps the duration');
  for (const v of pcm) assert.ok(Number.isFinite(v));

  // Speech most of the way through: at least half the 20 ms frames above -30 dBFS, peak above -12 dBFS.
  const envelope = amplitudeEnvelope(pcm);
  const loud = envelope.filter((v) => v > 32767 * 0.03).length;
  assert.ok(loud / envelope.length > 0.5, `${loud}/${envelope.length} frames above -30 dBFS`);
  assert.ok(Math.max(...envelope) > 32767 * 0.25, `peak ${Math.max(...envelope)}`);

  // And it aligns onto a (here: slowed-down, padded) user envelope of another length.
  const user = [...new Array<number>(25).fill(1), ...envelope.flatMap((v) => [v, v]), ...new Array<number>(10).fill(1)];
  const graph = alignReferenceGraph(envelope, user);
  assert.equal(graph.length, user.length);
  assert.ok(graph.slice(0, 25).every((v) => v === 0));
  assert.ok(graph.every((v) => Number.isInteger(v) && v >= 0));
});

test('the project\'s phoneme recogniser hears the sentence in the synthesised audio', { skip }, async () => {
  const { pcm } = await voice.synthesize(SENTENCE);
  const recogniser = await loadPhonemeRecogniser(modelsDir());
  try {
    const lp = await recogniser.logProbs(pcm);
    const ids = greedyCtcDecode({ frames: lp.frames, frameCount: lp.frameCount, vocabSize: lp.vocab.length }, lp.blank, HAMA_BLANK_BIAS);
    const heard = ids.map((id) => recogniser.vocab[id]).join(' ');
    // Synthesis is random (Piper's noise scales) and the recogniser is not perfect, so 4 of 5
    // words suffice. Measured: "æ s <wb> n ɑ t <wb> h w ɑ t <wb> j ʊ ɹ <wb> k ʌ n t ɹ i <wb> k æ n
    // <wb> d ̪ o <wb> ɔ <wb> j u"; some runs lose a vowel ("k ʌ n t ɹ") or the first "æ".
    const words = ['æ s', 'n ɑ t', 'k ʌ n t ɹ', 'k æ n', 'j u'];
    const found = words.filter((word) => heard.includes(word));
    assert.ok(found.length >= 4, `only ${found.join(', ')} in "${heard}"`);
  } finally {
    await recogniser.close();
  }
});
