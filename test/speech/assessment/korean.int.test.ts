import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { decodeFile } from '../../../src/media/decode.js';
import { loadWhisperModel } from '../../../src/speech/whisper/model.js';
import { ForcedTextScorer } from '../../../src/speech/whisper/forced-text.js';
import { loadG2p } from '../../../src/speech/phonemes/g2p.js';
import { koreanAssessment, koreanTarget, DEFAULT_KOREAN_SCORING } from '../../../src/speech/assessment/korean.js';
import { modelsDir, testdataDir } from '../../helpers/media-fixtures.js';

test('Korean assessment end to end: the clip read as written scores high, a swapped word scores lowest', async (t) => {
  const model = await loadWhisperModel(join(modelsDir(), 'whisper-base'), 'whisper-base', 2);
  const g2p = await loadG2p(modelsDir());
  try {
    const scorer = new ForcedTextScorer(model);
    const { pcm } = await decodeFile(join(testdataDir(), 'ko/sensevoice_ko.flac'));
    const cross = await scorer.encodeWindow(pcm);
    const assess = async (text: string) => {
      const target = koreanTarget(text);
      const forced = await scorer.score(cross, 'ko', target.text);
      const prior = await scorer.score(await scorer.silence(), 'ko', target.text);
      const pron = await Promise.all(target.words.map((w) => g2p.word(w.word)));
      return koreanAssessment(target, forced.tokens, pron, DEFAULT_KOREAN_SCORING, prior.tokens);
    };
    const show = (a: Awaited<ReturnType<typeof assess>>) =>
      `${a.score}: ` + a.words.map((w) => `${w.word}|{${w.chunks.map((c) => `${c.letters}(${c.phonemes}):${c.score}`).join(', ')}}`).join(' ');
    const own = await assess('조금만 생각을 하면서 살면 훨씬 편할 거야.');
    t.diagnostic(show(own));
    assert.ok(own.score >= 70, `own text ${own.score}`);
    assert.deepEqual(own.words.map((w) => w.word), ['조금만', '생각을', '하면서', '살면', '훨씬', '편할', '거야']);
    assert.deepEqual(own.words[1].chunks.map((c) => c.phonemes), ['seŋ', 'ka', 'kɯl']);
    const swapped = await assess('조금만 국물을 하면서 살면 훨씬 편할 거야.');
    t.diagnostic(show(swapped));
    const low = Math.min(...swapped.words.map((w) => w.score));
    assert.equal(swapped.words[1].score, low);
    assert.ok(swapped.words[1].score < 30 && swapped.score < own.score);
  } finally {
    await g2p.close();
  }
});
