import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { decodeFile } from '../../../src/media/decode.js';
import { loadWhisperModel } from '../../../src/speech/whisper/model.js';
import { loadShortEncoder } from '../../../src/speech/whisper/short-encoder.js';
import { loadGroupedDecoder } from '../../../src/speech/whisper/grouped-decoder.js';
import { BatchingDecoderRunner } from '../../../src/speech/whisper/step-batcher.js';
import { WhisperTranscriber, type WhisperOptions } from '../../../src/speech/whisper/transcriber.js';
import { modelsDir, testdataDir } from '../../helpers/media-fixtures.js';

// As the inference process loads them with batching on (worker.ts).
const MODEL_DIR = join(modelsDir(), 'whisper-base');
const short = await loadShortEncoder(MODEL_DIR, 2);
const { session: decoder } = await loadGroupedDecoder(MODEL_DIR, 2, { padding: true });
const model = await loadWhisperModel(MODEL_DIR, 'whisper-base', 2, { encoder: short.session, decoder });
const runner = new BatchingDecoderRunner(model, 4);
const batched = new WhisperTranscriber(model, short, runner);
const alone = new WhisperTranscriber(model, short);

const clips = await Promise.all(
  [['en/jfk.flac', 'en'], ['ko/etts_ada00002.flac', 'ko'], ['ja/cv_ja_38852485.flac', 'ja'], ['zh/firered_BAC009S0764W0121.flac', 'zh']]
    .map(async ([file, language]) => ({ language, pcm: (await decodeFile(join(testdataDir(), file))).pcm })),
);

after(async () => {
  await model.decoder.release();
  await short.session.release();
});

/** Characters two texts do not share, over the longer's length (a cheap edit-rate bound). */
function charDiff(a: string, b: string): number {
  const count = (s: string): Map<string, number> => {
    const m = new Map<string, number>();
    for (const ch of s.replace(/\s/g, '')) m.set(ch, (m.get(ch) ?? 0) + 1);
    return m;
  };
  const ca = count(a);
  const cb = count(b);
  let diff = 0;
  for (const [ch, n] of ca) diff += Math.max(0, n - (cb.get(ch) ?? 0));
  for (const [ch, n] of cb) diff += Math.max(0, n - (ca.get(ch) ?? 0));
  return diff / Math.max(1, a.replace(/\s/g, '').length, b.replace(/\s/g, '').length);
}

test('concurrent requests share decoder runs and get (nearly) the texts they get alone', async () => {
  for (const opts of [
    { beamSize: 1, wordTimestamps: false, temperatureFallback: false, shortContext: true },
    { beamSize: 2, wordTimestamps: true, temperatureFallback: true, shortContext: true },
    { beamSize: 5, wordTimestamps: false, temperatureFallback: true },
  ] satisfies Omit<WhisperOptions, 'language'>[]) {
    const solo: string[] = [];
    for (const c of clips) solo.push((await alone.transcribe(c.pcm, { ...opts, language: c.language })).text);
    const before = { ...runner.stats };
    const together = await Promise.all(clips.map((c) => batched.transcribe(c.pcm, { ...opts, language: c.language })));
    const runs = runner.stats.runs - before.runs;
    const steps = runner.stats.steps - before.steps;
    // Batched: fewer runs than steps asked for.
    assert.ok(runs < steps * 0.7, `beam ${opts.beamSize}: ${runs} runs for ${steps} steps`);
    // The export quantises activations per tensor, so a batch moves each request's logits a
    // little (as beams of one request already move each other): a near tie may flip.
    together.forEach((t, i) => assert.ok(charDiff(t.text, solo[i]) <= 0.1, `beam ${opts.beamSize}, ${clips[i].language}: "${t.text}" vs alone "${solo[i]}"`));
  }
});

test('a request alone runs exactly as on the shipped decoder', async () => {
  const opts: WhisperOptions = { language: 'en', beamSize: 5, wordTimestamps: true, temperatureFallback: true };
  const plain = await loadWhisperModel(MODEL_DIR, 'whisper-base', 2, { encoder: short.session });
  try {
    const reference = await new WhisperTranscriber(plain, short).transcribe(clips[0].pcm, opts);
    const one = await batched.transcribe(clips[0].pcm, opts);
    assert.deepEqual(one.segments, reference.segments);
  } finally {
    await plain.decoder.release();
  }
});
