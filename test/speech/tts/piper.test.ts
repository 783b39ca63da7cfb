import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { parseVoiceConfig, phonemeIds } from '../../../src/speech/tts/piper.js';
import { splitSentences } from '../../../src/speech/tts/phonemize.js';

const MAP = new Map<string, number[]>([
  ['_', [0]], ['^', [1]], ['$', [2]], [' ', [3]], ['.', [10]], ['a', [14]], ['k', [23]], ['ˈ', [120]], ['æ', [39]], ['̃', [141]],
]);

describe('phonemeIds (Piper conventions)', () => {
  test('BOS, pad after BOS and after every phoneme, EOS', () => {
    assert.deepEqual(phonemeIds('ˈæk.', MAP), [1, 0, 120, 0, 39, 0, 23, 0, 10, 0, 2]);
  });

  test('code points without an id are dropped; composed characters are split (NFD)', () => {
    // "ã" is a + combining tilde after NFD; "ʒ" is not in this map.
    assert.deepEqual(phonemeIds('ãʒ', MAP), [1, 0, 14, 0, 141, 0, 2]);
  });

  test('empty IPA is just BOS, pad, EOS', () => {
    assert.deepEqual(phonemeIds('', MAP), [1, 0, 2]);
  });
});

describe('parseVoiceConfig', () => {
  const json = {
    audio: { sample_rate: 22050 },
    espeak: { voice: 'en-us' },
    phoneme_type: 'espeak',
    inference: { noise_scale: 0.667, length_scale: 1, noise_w: 0.8 },
    phoneme_id_map: { _: [0], '^': [1], $: [2], a: [14] },
  };

  test('reads rate, espeak voice, scales and the id map', () => {
    const c = parseVoiceConfig(json);
    assert.equal(c.sampleRate, 22050);
    assert.equal(c.espeakVoice, 'en-us');
    assert.deepEqual([c.noiseScale, c.lengthScale, c.noiseW], [0.667, 1, 0.8]);
    assert.deepEqual(c.phonemeIdMap.get('a'), [14]);
  });

  test('rejects other phoneme types, a missing rate or a map without the specials', () => {
    assert.throws(() => parseVoiceConfig({ ...json, phoneme_type: 'text' }), /phoneme_type/);
    assert.throws(() => parseVoiceConfig({ ...json, audio: {} }), /sample_rate/);
    assert.throws(() => parseVoiceConfig({ ...json, phoneme_id_map: { a: [1] } }), /phoneme_id_map has no/);
  });
});

describe('splitSentences', () => {
  test('splits after . ! ? followed by white space, keeps decimals, drops empty pieces', () => {
    assert.deepEqual(splitSentences(' Ask not.  It costs 3.5 dollars!\nReally?? yes ... '), [
      'Ask not.',
      'It costs 3.5 dollars!',
      'Really??',
      'yes ...',
    ]);
    assert.deepEqual(splitSentences('  '), []);
  });
});
