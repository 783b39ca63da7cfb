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

test('no language given: identified from the first window (en, ko), and the same text as when named', async () => {
  const { pcm: ko } = await decodeFile(join(testdataDir(), 'ko/etts_ema00003.flac'));
  const en = await transcriber.transcribe(pcm, { ...greedy, language: undefined });
  assert.equal(en.language, 'en');
  assert.equal(en.text, (await transcriber.transcribe(pcm, greedy)).text);
  const detected = await transcriber.transcribe(ko, { ...greedy, language: undefined });
  assert.equal(detected.language, 'ko');
  assert.equal(detected.text, (await transcriber.transcribe(ko, { ...greedy, language: 'ko' })).text);
  await assert.rejects(transcriber.transcribe(pcm, { ...greedy, language: 'xx' }), { name: 'UnsupportedLanguageError' });
});

test('task translate: Korean speech comes out as English text', async () => {
  const { pcm: ko } = await decodeFile(join(testdataDir(), 'ko/etts_neb00001.flac'));
  const transcribed = await transcriber.transcribe(ko, { ...greedy, language: 'ko' });
  assert.match(transcribed.text, /\p{Script=Hangul}/u);
  for (const language of ['ko', undefined]) {
    const translated = await transcriber.transcribe(ko, { ...greedy, language, task: 'translate' });
    assert.equal(translated.language, 'ko');
    assert.doesNotMatch(translated.text, /\p{Script=Hangul}/u, translated.text);
    assert.match(translated.text, /[a-z]{3,}/i, translated.text);
    assert.match(translated.text, /internet|CPR|certificate|license|apply/i, translated.text);
  }
});

test('segmentTimestamps: audio of one window gets Whisper\'s own timed segments, with their decoding details', async () => {
  const plain = await transcriber.transcribe(pcm, greedy);
  assert.equal(plain.segments.length, 1);
  const timed = await transcriber.transcribe(pcm, { ...greedy, segmentTimestamps: true });
  assert.match(timed.text, JFK);
  // (whisper-base hears JFK's sentence as one segment, 0.00 -> 11.00, as openai-whisper does.)
  assert.ok(timed.segments.length >= 1, JSON.stringify(timed.segments));
  assert.notDeepEqual(plain.segments[0].tokens?.[0], timed.segments[0].tokens?.[0], 'text-only decoding starts with text');
  for (const [i, s] of timed.segments.entries()) {
    assert.ok(s.start < s.end && s.end <= 11.01, `segment ${i}: ${s.start}-${s.end}`);
    if (i > 0) assert.ok(s.start >= timed.segments[i - 1].end - 0.001);
    assert.equal(s.seek, 0);
    assert.equal(s.temperature, 0);
    assert.ok(s.compressionRatio !== undefined && s.compressionRatio > 0.5 && s.compressionRatio < 2.4);
    // Timestamp tokens open and close the segment's text tokens.
    const tokens = s.tokens ?? [];
    assert.ok(tokens.length > 2 && tokens[0] >= model.tokens.timestampBegin && tokens.at(-1)! >= model.tokens.timestampBegin);
  }
});

test('temperature: above 0 the first decode samples at it (reproducibly), and fallback climbs from there', async () => {
  const warm = await transcriber.transcribe(pcm, { ...greedy, temperature: 0.4, temperatureFallback: false });
  assert.match(warm.text, /ask/i);
  assert.ok(warm.segments.every((s) => s.temperature === 0.4));
  assert.equal((await transcriber.transcribe(pcm, { ...greedy, temperature: 0.4, temperatureFallback: false })).text, warm.text);
});

test('one encoder session for both: the short encoder serving full windows gives the same transcript', async () => {
  // What the inference process does to load the encoder's weights once (worker.ts).
  const shared = await loadWhisperModel(MODEL_DIR, 'whisper-base', 2, { encoder: short.session });
  const one = new WhisperTranscriber(shared, short);
  const opts: WhisperOptions = { language: 'en', beamSize: 5, wordTimestamps: true, temperatureFallback: true };
  const own = await transcriber.transcribe(pcm, opts);
  const same = await one.transcribe(pcm, opts);
  assert.equal(same.text, own.text);
  assert.deepEqual(same.segments.flatMap((s) => (s.words ?? []).map((w) => w.text)), own.segments.flatMap((s) => (s.words ?? []).map((w) => w.text)));
  assert.match((await one.transcribe(pcm, { ...opts, beamSize: 2, shortContext: true })).text, JFK);
  await shared.decoder.release();
});
