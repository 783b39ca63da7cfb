import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { decodeFile } from '../../../src/media/decode.js';
import { loadWhisperModel } from '../../../src/speech/whisper/model.js';
import { loadShortEncoder } from '../../../src/speech/whisper/short-encoder.js';
import { WhisperTranscriber, type WhisperOptions } from '../../../src/speech/whisper/transcriber.js';
import { modelsDir, testdataDir } from '../../helpers/media-fixtures.js';

const MODEL_DIR = join(modelsDir(), 'whisper-base');
const model = await loadWhisperModel(MODEL_DIR, 'whisper-base', 2);
const short = await loadShortEncoder(MODEL_DIR, 2);
const transcriber = new WhisperTranscriber(model, short);
const { pcm } = await decodeFile(join(testdataDir(), 'en/jfk.flac'));
const JFK = /not what your country can do for you,? ask what you can do for your country/i;
const greedy: WhisperOptions = { language: 'en', beamSize: 1, wordTimestamps: false, temperatureFallback: false };

after(async () => {
  await model.encoder.release();
  await model.decoder.release();
  await short.session.release();
});

test('shortContext: the encoder runs on the audio plus a margin and the text is the same', async () => {
  const full = await transcriber.transcribe(pcm, greedy);
  const part = await transcriber.transcribe(pcm, { ...greedy, shortContext: true });
  assert.match(full.text, JFK);
  assert.match(part.text, JFK);
  // With word timings too (a stream's final): the words lie inside the audio.
  const words = (await transcriber.transcribe(pcm, { ...greedy, beamSize: 2, shortContext: true, wordTimestamps: true }))
    .segments.flatMap((s) => s.words ?? []);
  assert.ok(words.length > 15);
  assert.ok(words.every((w) => w.start >= 0 && w.end <= pcm.length / 16000 + 0.01 && w.start <= w.end));
});

test('a draft only saves work: right, partial or wrong drafts give the undrafted text', async () => {
  for (const beamSize of [1, 2]) {
    const opts = { ...greedy, beamSize, shortContext: true };
    const plain = (await transcriber.transcribe(pcm, opts)).text;
    assert.match(plain, JFK);
    const head = plain.split(' ').slice(0, 8).join(' ');
    for (const draft of [plain, head, 'Completely unrelated words about the weather today.', '']) {
      const drafted = (await transcriber.transcribe(pcm, { ...opts, draft })).text;
      assert.match(drafted, JFK, `beam ${beamSize}, draft "${draft}": ${drafted}`);
      if (beamSize === 1) assert.equal(drafted, plain, `greedy with draft "${draft}"`);
    }
  }
});

test('searches of two requests interleaved step by step give what each gives alone', async () => {
  // The worker's RunGate lets a more urgent request run its next model step between two of
  // another's: nothing one search sets may leak into the other.
  const { pcm: ko } = await decodeFile(join(testdataDir(), 'ko/etts_ada00002.flac'));
  const beam5 = { ...greedy, language: 'ko', beamSize: 5 };
  const alone = await transcriber.transcribe(ko, beam5);
  const aloneGreedy = await transcriber.transcribe(pcm, greedy);
  const turn = () => new Promise<void>((r) => setImmediate(r));
  const [mixed, mixedGreedy] = await Promise.all([
    transcriber.transcribe(ko, { ...beam5, turn }),
    transcriber.transcribe(pcm, { ...greedy, turn }),
  ]);
  assert.equal(mixed.text, alone.text);
  assert.equal(mixedGreedy.text, aloneGreedy.text);
  assert.deepEqual(mixed.segments.map((s) => s.avgLogProb), alone.segments.map((s) => s.avgLogProb));
});
