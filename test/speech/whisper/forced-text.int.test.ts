import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { decodeFile } from '../../../src/media/decode.js';
import { loadWhisperModel } from '../../../src/speech/whisper/model.js';
import { ForcedTextScorer } from '../../../src/speech/whisper/forced-text.js';
import { modelsDir, testdataDir } from '../../helpers/media-fixtures.js';

test('forced text: token ranges cover the text in order; the clip\'s own text is likely, another clip\'s is not', async (t) => {
  const model = await loadWhisperModel(join(modelsDir(), 'whisper-base'), 'whisper-base', 2);
  const scorer = new ForcedTextScorer(model);
  const { pcm } = await decodeFile(join(testdataDir(), 'ko/sensevoice_ko.flac'));
  const cross = await scorer.encodeWindow(pcm);
  const own = '조금만 생각을 하면서 살면 훨씬 편할 거야.';
  const r = await scorer.score(cross, 'ko', own);
  t.diagnostic(r.tokens.map((x) => `${x.piece}:${x.logProb.toFixed(2)}`).join(' '));
  const chars = Array.from(own);
  // Every character lies in some token; ranges never go backwards.
  for (let c = 0; c < chars.length; c++) assert.ok(r.tokens.some((x) => x.start <= c && c < x.end), `character ${c} in no token`);
  for (let k = 1; k < r.tokens.length; k++) assert.ok(r.tokens[k].start >= r.tokens[k - 1].start && r.tokens[k].end >= r.tokens[k - 1].end);
  for (const x of r.tokens) assert.ok(x.logProb <= x.bestLogProb + 1e-6 && (x.rank === 0) === (x.logProb >= x.bestLogProb - 1e-6));
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  const ownMean = mean(r.tokens.map((x) => x.logProb));
  const other = await scorer.score(cross, 'ko', '남자가 여자를 민다');
  assert.ok(ownMean > -0.5, `own text mean log-prob ${ownMean}`);
  assert.ok(mean(other.tokens.map((x) => x.logProb)) < ownMean - 3);
  // The prior (silent window) gives the same tokens, far less likely.
  const prior = await scorer.score(await scorer.silence(), 'ko', own);
  assert.deepEqual(prior.tokens.map((x) => x.id), r.tokens.map((x) => x.id));
  assert.ok(mean(prior.tokens.map((x) => x.logProb)) < ownMean - 2);
  assert.throws(() => scorer.prefix('xx'), /language/);
});
