import assert from 'node:assert/strict';
import { test } from 'node:test';
import { plausible } from '../../src/jobs/second-look.js';
import type { Transcript } from '../../src/speech/engine.js';

const transcript = (text: string, avgLogProb: number, noSpeechProb: number): Transcript => ({
  text, language: 'en', durationS: 1, segments: [{ start: 0, end: 1, text, avgLogProb, noSpeechProb }],
});

test('a second look keeps text the decoder was sure of, and nothing it thought was silence', () => {
  assert.equal(plausible(transcript(' Yeah.', -0.4, 0.2)), true);
  assert.equal(plausible(transcript(' Thank you.', -0.92, 0.78)), false, 'Whisper\'s favourite words for silence');
  assert.equal(plausible(transcript(' Okay then.', -1.3, 0.1)), false);
  assert.equal(plausible(transcript(' ...', -0.1, 0.1)), false);
  assert.equal(plausible(transcript('', 0, 0)), false);
});
