/**
 * Keyword boosting on real audio and the real model: a word the plain decode gets wrong comes
 * out right once it is boosted among unrelated keywords. The clip was found with
 * `npm run bench:boosting` (plain beam 5: "자격증 투득을"; reference "자격증 취득을").
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createEngine, type SpeechEngine } from '../../src/speech/index.js';
import { decodeFile } from '../../src/media/decode.js';
import { keywordCorrector } from '../../src/transcript/boosting.js';
import { modelsDir, testdataDir } from '../helpers/media-fixtures.js';

const CLIP = 'ko/etts_nek00001.flac';
const TARGET = '취득';
// Content words of other clips' references: nothing this clip says.
const DISTRACTORS = ['태풍', '토너먼트', '뉴욕', '한국어', '선거', '질량', '토성', '이민', '결선', '평균적'];
const squash = (s: string): string => s.replace(/\s+/gu, '');

let engine: SpeechEngine;
let pcm: Float32Array;

before(async () => {
  engine = createEngine({ modelsDir: modelsDir(), model: 'whisper-base', threads: 2, parallel: 1, queueLimit: 4, beamSize: 5 });
  await engine.ready();
  pcm = (await decodeFile(join(testdataDir(), CLIP))).pcm;
});
after(() => engine.close());

test('the plain decode misses the word; the decoding bias alone brings it in', async () => {
  const plain = await engine.transcribe(pcm, { language: 'ko' });
  assert.ok(!squash(plain.text).includes(TARGET), `plain: ${plain.text}`);
  const keywords = [...DISTRACTORS.slice(0, 5), TARGET, ...DISTRACTORS.slice(5)];
  const biased = await engine.transcribe(pcm, { language: 'ko', boost: { keywords, prompt: false } });
  assert.ok(squash(biased.text).includes(TARGET), `bias only: ${biased.text}`);
  for (const d of DISTRACTORS) assert.ok(!squash(biased.text).includes(d), `distractor ${d} forced in: ${biased.text}`);
});

test('every lever together (prompt, bias, post-correction), as the server runs them', async () => {
  const keywords = [TARGET, ...DISTRACTORS];
  const t = await engine.transcribe(pcm, { language: 'ko', boost: { keywords } });
  const text = keywordCorrector(keywords, 'ko')?.apply(t.text) ?? t.text;
  assert.ok(squash(text).includes(TARGET), text);
  assert.ok(squash(text).includes('자격증'), 'the rest of the sentence is still there');
});

test('boosting only words the clip does not contain does not force them in', async () => {
  const t = await engine.transcribe(pcm, { language: 'ko', boost: { keywords: DISTRACTORS } });
  for (const d of DISTRACTORS) assert.ok(!squash(t.text).includes(d), `${d} forced in: ${t.text}`);
});
