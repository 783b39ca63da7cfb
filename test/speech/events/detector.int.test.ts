import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import {
  EventDetector, EventDetectorError, EventInputError, detectEvents, eventTypes, type SoundEvent,
} from '../../../src/speech/events/index.js';
import { readClassNames, YAMNET_CLASSES } from '../../../src/speech/events/yamnet.js';
import { decodeFile } from '../../../src/media/decode.js';
import { EVENT_RECIPES, overlay, renderEvent } from '../../../bench/lib/event-mixes.js';
import { modelsDir, testdataDir } from '../../helpers/media-fixtures.js';

let detector: EventDetector;
let dir: string;
/** jfk.flac with 2.5 s of pink noise laid over it from 4.0 s, at the speech's RMS. */
let noisyJfk: Float32Array;
const NOISE_ONSET_MS = 4000;

const recipe = (name: string) => {
  const r = EVENT_RECIPES.find((x) => x.name === name);
  if (!r) throw new Error(`no recipe ${name}`);
  return r;
};

before(async () => {
  detector = new EventDetector({ modelsDir: modelsDir() });
  dir = await mkdtemp(join(tmpdir(), 'sori-events-test-'));
  const ev = await renderEvent(dir, recipe('pink-noise'), 2.5, 'pink');
  await overlay(join(testdataDir(), 'en/jfk.flac'), ev.path, NOISE_ONSET_MS / 1000, 0, join(dir, 'jfk-noise.wav'));
  noisyJfk = (await decodeFile(join(dir, 'jfk-noise.wav'))).pcm;
});
after(async () => {
  await detector.close();
  await rm(dir, { recursive: true, force: true });
});

/** Mean class scores over patches at YAMNet's own hop, top `n` names first. */
async function topClasses(pcm: Float32Array, n: number): Promise<string[]> {
  const names = readClassNames(join(modelsDir(), 'yamnet-int8'));
  const { patches, scores } = await detector.classify(pcm, 48);
  const mean = new Float64Array(YAMNET_CLASSES);
  for (let p = 0; p < patches; p++) for (let c = 0; c < YAMNET_CLASSES; c++) mean[c] += scores[p * YAMNET_CLASSES + c];
  return [...mean.keys()].sort((x, y) => mean[y] - mean[x]).slice(0, n).map((c) => names[c]);
}

test('front end and model agree with YAMNet’s own installation test (silence, white noise, 440 Hz)', async () => {
  // tensorflow/models research/audioset/yamnet/yamnet_test.py: 3 s of each, expected class in the top 10.
  let seed = 51773;
  const uniform = Float32Array.from({ length: 48000 }, () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return (seed / 2147483648) * 2 - 1;
  });
  const sine = Float32Array.from({ length: 48000 }, (_, i) => Math.sin((2 * Math.PI * 440 * i) / 16000));
  assert.equal((await topClasses(new Float32Array(48000), 1))[0], 'Silence');
  assert.ok((await topClasses(uniform, 10)).includes('White noise'));
  assert.ok((await topClasses(sine, 10)).includes('Sine wave'));
  // And real speech is speech.
  const { pcm } = await decodeFile(join(testdataDir(), 'ko/etts_ada00001.flac'));
  assert.equal((await topClasses(pcm, 1))[0], 'Speech');
});

test('a noise burst laid over speech is found, with its onset within 0.5 s', async () => {
  const events = await detectEvents(detector, noisyJfk);
  const noise = events.filter((e) => e.label === 'noise');
  assert.equal(noise.length, 1, JSON.stringify(events));
  assert.ok(Math.abs(noise[0].startTimestamp - NOISE_ONSET_MS) <= 500, JSON.stringify(noise[0]));
  // The burst lasts 2.5 s.
  assert.ok(Math.abs(noise[0].endTimestamp - (NOISE_ONSET_MS + 2500)) <= 750, JSON.stringify(noise[0]));
  assert.ok(noise[0].confidence > 0 && noise[0].confidence <= 1);
  assert.deepEqual(eventTypes(events), ['noise']);

  // White noise over Korean speech, 6 dB under the speech.
  const ev = await renderEvent(dir, recipe('white-noise'), 2, 'white');
  await overlay(join(testdataDir(), 'ko/etts_ava00002.flac'), ev.path, 5.5, -6, join(dir, 'ko-noise.wav'));
  const ko = (await detectEvents(detector, (await decodeFile(join(dir, 'ko-noise.wav'))).pcm)).filter((e) => e.label === 'noise');
  assert.equal(ko.length, 1, JSON.stringify(ko));
  assert.ok(Math.abs(ko[0].startTimestamp - 5500) <= 500, JSON.stringify(ko[0]));
});

test('music laid over Korean speech is found as music', async () => {
  const ev = await renderEvent(dir, recipe('pluck-chords'), 3, 'chords');
  await overlay(join(testdataDir(), 'ko/etts_avc00002.flac'), ev.path, 5, -6, join(dir, 'ko-music.wav'));
  const events = await detectEvents(detector, (await decodeFile(join(dir, 'ko-music.wav'))).pcm);
  const music = events.filter((e) => e.label === 'music');
  assert.equal(music.length, 1, JSON.stringify(events));
  assert.ok(Math.abs(music[0].startTimestamp - 5000) <= 500, JSON.stringify(music[0]));
});

test('speech alone gives no events (Korean and English, up to 3 minutes)', async () => {
  for (const file of ['en/jfk.flac', 'en/librispeech_1089-134686-0000.flac', 'ko/etts_ada00001.flac', 'ko/etts_emh00103.flac', 'ko/dialog_etts_lmy_kih_3min.flac']) {
    const { pcm } = await decodeFile(join(testdataDir(), file), { maxSeconds: 600 });
    assert.deepEqual(await detectEvents(detector, pcm), [], file);
  }
});

test('chunked pushes give exactly what one push gives, and events close while streaming', async () => {
  const whole = await detectEvents(detector, noisyJfk);
  const s = detector.session();
  // Odd sizes, including single samples and chunks straddling patch boundaries.
  const sizes = [1, 159, 3840, 1, 7919, 16000, 333, 50000];
  let off = 0;
  for (let i = 0; off < noisyJfk.length; i++) {
    const n = sizes[i % sizes.length];
    await s.push(noisyJfk.subarray(off, off + n));
    off += n;
  }
  // The burst ends at 6.5 s of an 11 s clip: it is closed before the end of the media.
  assert.ok(s.closedEvents.some((e) => e.label === 'noise'), JSON.stringify(s.closedEvents));
  const chunked = await s.finish();
  assert.deepEqual(chunked, whole);

  // Pushes not awaited one by one are still processed in order.
  const s2 = detector.session();
  const pending: Promise<void>[] = [];
  for (let o = 0; o < noisyJfk.length; o += 4000) pending.push(s2.push(noisyJfk.subarray(o, o + 4000)));
  await Promise.all(pending);
  assert.deepEqual(await s2.finish(), whole);
});

test('bad input: empty audio, NaN, wrong types, pushes after finish, bad options', async () => {
  const empty = detector.session();
  await empty.push(new Float32Array(0));
  assert.deepEqual(await empty.finish(), []);

  const s = detector.session();
  const bad = new Float32Array(16000);
  bad[123] = Number.NaN;
  await assert.rejects(s.push(bad), (e: unknown) => e instanceof EventInputError && /sample 123/.test(e.message));
  bad[123] = Number.POSITIVE_INFINITY;
  await assert.rejects(s.push(bad), EventInputError);
  await assert.rejects(s.push(new Float64Array(10) as unknown as Float32Array), EventInputError);
  await assert.rejects(s.push([0.1, 0.2] as unknown as Float32Array), EventInputError);
  // A refused push leaves the session as it was: the clean audio still gives the right answer.
  await s.push(noisyJfk);
  const events: SoundEvent[] = await s.finish();
  assert.deepEqual(events, await detectEvents(detector, noisyJfk));
  await assert.rejects(s.push(new Float32Array(10)), EventInputError);
  await assert.rejects(s.finish(), EventInputError);

  // Shorter than one patch: zero-padded, no crash, times inside the media.
  const short = await detectEvents(detector, noisyJfk.subarray(70000, 74000));
  for (const e of short) assert.ok(e.startTimestamp >= 0 && e.endTimestamp <= 250, JSON.stringify(e));

  assert.throws(() => detector.session({ thresholds: { noise: { onset: 0.2, offset: 0.5 } } }), /offset/);
  assert.throws(() => detector.session({ thresholds: { noise: { onset: Number.NaN } } }), EventInputError);
  assert.throws(() => detector.session({ thresholds: { purring: { onset: 0.5 } } }), EventInputError);
  assert.throws(() => detector.session({ hopFrames: 0 }), EventInputError);
  assert.throws(() => new EventDetector({ modelsDir: '' }), EventInputError);
});

test('inference runs off the event loop: timers keep firing while a minute of audio is analysed', async () => {
  const minute = new Float32Array(16000 * 60);
  for (let i = 0; i < minute.length; i += noisyJfk.length) minute.set(noisyJfk.subarray(0, Math.min(noisyJfk.length, minute.length - i)), i);
  let last = performance.now();
  let worst = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
  }, 5);
  try {
    const events = await detectEvents(detector, minute);
    assert.ok(events.some((e) => e.label === 'noise'));
  } finally {
    clearInterval(timer);
  }
  // The worker spends well over a second on this; the main thread only cuts and copies buffers.
  assert.ok(worst < 100, `event loop stalled for ${worst.toFixed(0)} ms`);
});

test('a worker that fails to load or dies mid-request fails its requests, and the next one starts afresh', async () => {
  const broken = new EventDetector({ modelsDir: join(dir, 'no-models-here') });
  await assert.rejects(broken.load(), /could not be loaded/);
  await assert.rejects(detectEvents(broken, noisyJfk), /could not be loaded/);
  await broken.close();

  const d = new EventDetector({ modelsDir: modelsDir() });
  try {
    await d.load();
    const s = d.session();
    const inFlight = s.push(noisyJfk);
    // Stands in for a native crash: the thread goes away with a request outstanding.
    await (d as unknown as { worker: Worker }).worker.terminate();
    await assert.rejects(inFlight, EventDetectorError);
    // That session has a hole in it and says so; a new one works on a fresh worker.
    await assert.rejects(s.finish(), EventDetectorError);
    assert.deepEqual(await detectEvents(d, noisyJfk), await detectEvents(detector, noisyJfk));
  } finally {
    await d.close();
  }
});

test('built with tsc, the module and its .js worker run under plain node (no tsx)', async () => {
  const run = promisify(execFile);
  const repo = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..');
  const out = join(dir, 'build');
  await run(process.execPath, [
    join(repo, 'node_modules', 'typescript', 'bin', 'tsc'), '--outDir', join(out, 'dist'), '--rootDir', join(repo, 'src'),
    '--target', 'ES2022', '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--strict', '--esModuleInterop', '--skipLibCheck',
    join(repo, 'src/speech/events/index.ts'), join(repo, 'src/speech/events/worker.ts'),
  ]);
  await writeFile(join(out, 'package.json'), '{"type":"module"}');
  await symlink(join(repo, 'node_modules'), join(out, 'node_modules'));
  await writeFile(join(out, 'run.mjs'), `
    import { EventDetector, detectEvents } from './dist/speech/events/index.js';
    const d = new EventDetector({ modelsDir: ${JSON.stringify(modelsDir())} });
    const pcm = Float32Array.from({ length: 48000 }, (_, i) => 0.5 * Math.sin((2 * Math.PI * 1000 * i) / 16000));
    console.log(JSON.stringify(await detectEvents(d, pcm)));
    await d.close();
  `);
  const { stdout } = await run(process.execPath, [join(out, 'run.mjs')], { cwd: out });
  const events = JSON.parse(stdout) as SoundEvent[];
  assert.deepEqual(events.map((e) => e.label), ['beep']);
});
