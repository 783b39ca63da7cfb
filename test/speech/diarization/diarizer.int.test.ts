/**
 * The diarizer on real recordings, with the real models in the worker thread. Audio is decoded
 * with ffmpeg from the shared test data (never copied into the repository).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ZodError } from 'zod';
import { loadDiarizer, type Diarizer, type Turn } from '../../../src/speech/diarization/index.js';
import { decodeFile } from '../../../src/media/decode.js';
import { diarizationErrorRate, parseRttm } from '../../../bench/lib/der.js';
import { modelsDir, testdataDir } from '../../helpers/media-fixtures.js';

let diarizer: Diarizer;
const pcmCache = new Map<string, Float32Array>();

before(async () => {
  diarizer = await loadDiarizer(modelsDir());
});
after(async () => {
  await diarizer.close();
});

async function pcmOf(file: string): Promise<Float32Array> {
  let pcm = pcmCache.get(file);
  if (!pcm) {
    pcm = (await decodeFile(join(testdataDir(), file))).pcm;
    pcmCache.set(file, pcm);
  }
  return pcm;
}

async function diarize(pcm: Float32Array, opts: { chunk?: number; speakerCountMin?: number; speakerCountMax?: number } = {}): Promise<Turn[]> {
  const s = diarizer.session();
  const chunk = opts.chunk ?? pcm.length;
  for (let i = 0; i < pcm.length; i += chunk) await s.push(pcm.subarray(i, i + chunk));
  return s.finish({ speakerCountMin: opts.speakerCountMin ?? -1, speakerCountMax: opts.speakerCountMax ?? -1 });
}

const speakers = (turns: readonly Turn[]): number => new Set(turns.map((t) => t.speaker)).size;

function der(turns: readonly Turn[], rttm: string): number {
  const ref = parseRttm(readFileSync(join(testdataDir(), rttm), 'utf8'));
  return diarizationErrorRate(ref, turns.map((t) => ({ ...t, speaker: String(t.speaker) })), { collar: 0.25 }).der;
}

test('a two-speaker conversation: two speakers, low DER, well-formed turns', async () => {
  const turns = await diarize(await pcmOf('en/pyannote_sample_2spk.flac'));
  assert.equal(speakers(turns), 2, JSON.stringify(turns));
  const d = der(turns, 'en/pyannote_sample_2spk.rttm');
  assert.ok(d < 0.1, `DER ${d}`);
  // Numbered by first appearance, sorted by start, inside the audio.
  assert.equal(turns[0].speaker, 1);
  const firstOf2 = turns.findIndex((t) => t.speaker === 2);
  assert.ok(turns.slice(0, firstOf2).every((t) => t.speaker === 1));
  for (let i = 0; i < turns.length; i++) {
    assert.ok(turns[i].start >= 0 && turns[i].end <= 30 && turns[i].end > turns[i].start, JSON.stringify(turns[i]));
    if (i > 0) assert.ok(turns[i].start >= turns[i - 1].start);
  }
});

test('a synthetic mix with overlap: both speakers found, overlap kept', async () => {
  const turns = await diarize(await pcmOf('en/tcpp_multitalker-2spk-mix.flac'));
  assert.equal(speakers(turns), 2);
  const d = der(turns, 'en/tcpp_multitalker-2spk-mix.rttm');
  assert.ok(d < 0.15, `DER ${d}`);
});

test('far-field meeting: two people the segmentation model gave one local speaker are told apart', async () => {
  // AMI dev01: the segmentation model hears one voice across windows where two people take
  // turns; only splitting that local speaker by its partials finds the second person.
  const pcm = await pcmOf('en/ami_dev01.flac');
  const turns = await diarize(pcm);
  assert.equal(speakers(turns), 2, JSON.stringify(turns));
  const d = der(turns, 'en/ami_dev01.rttm');
  const unsplit = await loadDiarizer(modelsDir(), { splitThreshold: 3 });
  try {
    const s = unsplit.session();
    await s.push(pcm);
    const before = await s.finish();
    assert.ok(d < der(before, 'en/ami_dev01.rttm') - 0.05, `DER ${d} split, ${der(before, 'en/ami_dev01.rttm')} not`);
  } finally {
    await unsplit.close();
  }
});

test('speakerCountMin/Max force the number of speakers', async () => {
  const pcm = await pcmOf('en/pyannote_sample_2spk.flac');
  assert.equal(speakers(await diarize(pcm, { speakerCountMax: 1 })), 1);
  assert.equal(speakers(await diarize(pcm, { speakerCountMin: 3 })), 3);
  assert.equal(speakers(await diarize(pcm, { speakerCountMin: 3, speakerCountMax: 3 })), 3);
  // A range holding the true count changes nothing.
  assert.equal(speakers(await diarize(pcm, { speakerCountMin: 1, speakerCountMax: 4 })), 2);
});

test('one speaker stays one speaker', async () => {
  const turns = await diarize(await pcmOf('en/jobs_dots.flac'));
  assert.equal(speakers(turns), 1, JSON.stringify(turns));
  const speech = turns.reduce((a, t) => a + t.end - t.start, 0);
  assert.ok(speech > 20 && speech < 36, `speech ${speech} s`);
});

test('silence, no audio and a short clip', async () => {
  assert.deepEqual(await diarize(new Float32Array(16000 * 15)), []);
  assert.deepEqual(await diarize(new Float32Array(0)), []);
  // 3 s: shorter than one window, which is zero-padded.
  const turns = await diarize(await pcmOf('en/librispeech_1089-134686-0001.flac'));
  assert.equal(speakers(turns), 1);
  assert.ok(turns[turns.length - 1].end <= 3.3);
});

test('pushing small chunks gives exactly what one chunk gives', async () => {
  const pcm = await pcmOf('en/pyannote_sample_2spk.flac');
  const whole = await diarize(pcm);
  // An odd size, so chunk edges never line up with windows or steps.
  assert.deepEqual(await diarize(pcm, { chunk: 1237 }), whole);
  // Pushes that are not awaited one by one are still taken in order.
  const s = diarizer.session();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < pcm.length; i += 16000) pending.push(s.push(pcm.slice(i, i + 16000)));
  await Promise.all(pending);
  assert.deepEqual(await s.finish(), whole);
});

test('the event loop keeps turning while a session computes', async () => {
  const pcm = await pcmOf('en/pyannote_sample_2spk.flac');
  // Three copies: 90 s, about 40 windows to analyse and their embeddings to cluster at the end.
  const long = new Float32Array(pcm.length * 3);
  for (let i = 0; i < 3; i++) long.set(pcm, i * pcm.length);
  // Model runs and clustering happen in the worker thread, so timers here keep firing. No bound
  // on delays (no timed assertions in tests): only that the loop was free many times over.
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  const s = diarizer.session();
  const pushes: Promise<void>[] = [];
  for (let i = 0; i < long.length; i += 16000) pushes.push(s.push(long.slice(i, i + 16000)));
  await Promise.all(pushes);
  const turns = await s.finish();
  clearInterval(timer);
  assert.equal(speakers(turns), 2);
  assert.ok(ticks >= 10, `the interval fired ${ticks} times`);
});

test('options are validated at the edge', async () => {
  const s = diarizer.session();
  await assert.rejects(s.finish({ speakerCountMin: 0 }), ZodError);
  await assert.rejects(diarizer.session().finish({ speakerCountMax: 31 }), ZodError);
  await assert.rejects(diarizer.session().finish({ speakerCountMin: 3, speakerCountMax: 2 }), ZodError);
  await assert.rejects(loadDiarizer(modelsDir(), { stepSeconds: 0 }), ZodError);
  await assert.rejects(loadDiarizer(modelsDir(), { nonsense: 1 } as never), ZodError);
  await assert.rejects(loadDiarizer('/nonexistent'), /failed to load/);
  // A session cannot be finished twice or fed after finishing.
  const done = diarizer.session();
  await done.finish();
  await assert.rejects(done.finish(), /twice/);
  await assert.rejects(done.push(new Float32Array(10)), /after finish/);
});

test('the best speaker encoder the models folder holds is used: CAM++ (scripts/test.sh makes it), its own clustering settings', async () => {
  const d = await loadDiarizer(modelsDir());
  try {
    assert.equal(d.speakerModel, 'speaker-campplus', 'scripts/models/speaker-campplus.sh was not run on the test models folder');
    assert.equal(d.tuning.threshold, 0.45);
  } finally {
    await d.close();
  }
  const ge2e = await loadDiarizer(modelsDir(), {}, 'speaker-resemblyzer');
  try {
    assert.equal(ge2e.speakerModel, 'speaker-resemblyzer');
    assert.equal(ge2e.tuning.threshold, 0.3);
    const turns = await ge2e.session().finish();
    assert.deepEqual(turns, []);
  } finally {
    await ge2e.close();
  }
});
