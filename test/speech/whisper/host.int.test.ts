import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import { createEngine, EngineBusyError, EngineFailedError, TranscriptionAbortedError, UnsupportedLanguageError, type SpeechEngine } from '../../../src/speech/index.js';
import type { Transcript } from '../../../src/speech/engine.js';
import { decodeFile } from '../../../src/media/decode.js';
import { modelsDir, testdataDir } from '../../helpers/media-fixtures.js';

let engine: SpeechEngine;
let jfk: Float32Array;

const words = (s: string): string => s.toLowerCase().replace(/[^\p{L}\p{N} ]/gu, '').replace(/\s+/g, ' ');

/** Words of `a` found in `b` in the same order (longest common subsequence). */
function commonWords(a: string[], b: string[]): number {
  let prev = new Array<number>(b.length + 1).fill(0);
  for (const x of a) {
    const row = [0];
    for (let j = 0; j < b.length; j++) row.push(x === b[j] ? prev[j] + 1 : Math.max(prev[j + 1], row[j]));
    prev = row;
  }
  return prev[b.length];
}

before(async () => {
  engine = createEngine({ modelsDir: modelsDir(), model: 'whisper-base', threads: 2, parallel: 1, queueLimit: 2, beamSize: 5 });
  await engine.ready();
  jfk = (await decodeFile(join(testdataDir(), 'en/jfk.flac'))).pcm;
});
after(() => engine.close());

test("shortRequestContext: a short request on its audio's own context still gets its words and timings", async () => {
  const short = createEngine({ modelsDir: modelsDir(), model: 'whisper-base', threads: 2, parallel: 1, queueLimit: 2, beamSize: 5, shortRequestContext: true });
  try {
    const r = await short.transcribe(jfk, { language: 'en', wordTimestamps: true, priority: 'short' });
    assert.match(words(r.text), /ask not what your country can do for you/);
    for (const s of r.segments) assert.ok(s.end <= r.durationS + 0.01, JSON.stringify(s));
  } finally {
    await short.close();
  }
});

test('modelCacheDir: the weights read from data files there give the same transcript, and a restart reuses them', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sori-model-cache-'));
  const opts = { modelsDir: modelsDir(), model: 'whisper-base', threads: 2, parallel: 1, queueLimit: 2, beamSize: 5, modelCacheDir: dir };
  try {
    const cached = createEngine(opts);
    const [a, b] = await Promise.all([
      cached.transcribe(jfk, { language: 'en', wordTimestamps: true }).finally(() => cached.close()),
      engine.transcribe(jfk, { language: 'en', wordTimestamps: true }),
    ]);
    assert.deepEqual(a.segments, b.segments);
    const files = readdirSync(dir).sort();
    assert.deepEqual(files.map((f) => f.replace(/-[0-9a-f]{16}\./, '-<hash>.')), [
      'whisper-base.decoder-<hash>.onnx', 'whisper-base.decoder-<hash>.onnx_data',
      'whisper-base.short-encoder-heads-<hash>.onnx', 'whisper-base.short-encoder-heads-<hash>.onnx_data',
    ]);
    const written = files.map((f) => statSync(join(dir, f)).mtimeMs);
    const again = createEngine(opts);
    try {
      await again.ready();
      assert.deepEqual(readdirSync(dir).sort(), files);
      assert.deepEqual(files.map((f) => statSync(join(dir, f)).mtimeMs), written, 'not written again');
    } finally {
      await again.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('modelCacheDir where nothing can be written (a file in the way): the weights load from memory, the engine log says why, the version does not', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sori-model-cache-'));
  writeFileSync(join(dir, 'file'), 'not a folder');
  const logged: string[] = [];
  const blocked = createEngine({
    modelsDir: modelsDir(), model: 'whisper-base', threads: 2, parallel: 1, queueLimit: 2, beamSize: 5,
    modelCacheDir: join(dir, 'file', 'cache'), onLog: (m) => logged.push(m),
  });
  try {
    await blocked.ready();
    assert.equal(logged.filter((m) => /model cache .* unusable, weights loaded from memory .*ENOTDIR/.test(m)).length, 1, logged.join('\n'));
    assert.doesNotMatch(blocked.version, /cache|ENOTDIR/);
    assert.match(words((await blocked.transcribe(jfk, { language: 'en' })).text), /ask not what your country can do for you/);
  } finally {
    await blocked.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('English with beam search, segments and word timings', async () => {
  const r = await engine.transcribe(jfk, { language: 'en', wordTimestamps: true });
  assert.match(words(r.text), /ask not what your country can do for you/);
  assert.ok(r.segments.length >= 1);
  let last = 0;
  for (const s of r.segments) {
    assert.ok(s.start >= 0 && s.start <= s.end && s.end <= r.durationS + 0.01, JSON.stringify(s));
    assert.ok(s.words && s.words.length > 0);
    for (const w of s.words) {
      assert.ok(w.start >= last - 0.001 && w.end >= w.start, `word ${JSON.stringify(w)} after ${last}`);
      assert.ok(w.probability > 0 && w.probability <= 1);
      last = w.start;
    }
  }
  const fromWords = r.segments.flatMap((s) => s.words!.map((w) => w.text)).join('').trim();
  assert.equal(words(fromWords), words(r.text));
  // "Americans" is spoken around 1.5-2.1 s in this recording.
  const americans = r.segments.flatMap((s) => s.words!).find((w) => /americans/i.test(w.text));
  assert.ok(americans && americans.start > 1.0 && americans.start < 2.2, JSON.stringify(americans));
});

test('Korean greedy gives Hangul', async () => {
  const { pcm } = await decodeFile(join(testdataDir(), 'ko/etts_ada00002.flac'));
  const r = await engine.transcribe(pcm, { language: 'ko', beamSize: 1 });
  assert.match(r.text, /평균적으로/);
});

test('audio longer than one window is decoded window after window', async () => {
  const long = new Float32Array(jfk.length * 4);
  for (let i = 0; i < 4; i++) long.set(jfk, i * jfk.length);
  const r = await engine.transcribe(long, { language: 'en', beamSize: 1 });
  const n = (words(r.text).match(/ask not what your country can do for you/g) ?? []).length;
  assert.ok(n >= 3, r.text);
  assert.ok(r.segments[r.segments.length - 1].end > 35, JSON.stringify(r.segments.at(-1)));
});

test('windowBatch: windows of one recording in one request, decoded together, each as `transcribe` gives it', async () => {
  const batched = createEngine({ modelsDir: modelsDir(), model: 'whisper-base', threads: 2, parallel: 1, queueLimit: 2, beamSize: 5, windowBatch: 3 });
  try {
    await batched.ready();
    assert.equal(batched.windowBatch, 3);
    const { pcm } = await decodeFile(join(testdataDir(), 'en/jobs_dots.flac'));
    // Three windows of different lengths (they end at different decoder steps), the last jfk.
    const windows = [pcm.subarray(0, 16_000 * 13), pcm.subarray(16_000 * 13, 16_000 * 22), jfk];
    const opts = { language: 'en', wordTimestamps: true, priority: 'batch' as const };
    const alone: Transcript[] = [];
    for (const w of windows) alone.push(await batched.transcribe(w, opts));
    const together = await batched.transcribeMany!(windows, opts);
    assert.equal(together.length, 3);
    // A joined run moves logits a little (activations quantised per tensor, as between beams): a
    // near-tie word may change (seen: a cut-off last word dropped). lockstep.int.test.ts checks
    // exact equality on a session that quantises per row.
    together.forEach((t, i) => {
      const a = words(alone[i].text).split(' ');
      const kept = commonWords(a, words(t.text).split(' '));
      assert.ok(kept >= a.length - 2, `window ${i}: "${t.text}" against "${alone[i].text}"`);
    });
    assert.match(words(together[2].text), /ask not what your country can do for you/);
    assert.ok(together.every((t) => t.segments.every((s) => (s.words?.length ?? 0) > 0)), 'word timings');
  } finally {
    await batched.close();
  }
});

test('silence yields no text', async () => {
  const r = await engine.transcribe(new Float32Array(16000 * 5), { language: 'ko', beamSize: 1 });
  assert.equal(r.text, '');
});

test('an unknown language is the caller\'s mistake (UnsupportedLanguageError), not a crash', async () => {
  await assert.rejects(engine.transcribe(jfk, { language: 'xx' }), UnsupportedLanguageError);
  // and the worker still serves the next request
  const r = await engine.transcribe(jfk.subarray(0, 16000 * 3), { language: 'en', beamSize: 1 });
  assert.equal(typeof r.text, 'string');
});

test('a full queue refuses at once; aborting stops queued and running work', async () => {
  const ac = new AbortController();
  const running = engine.transcribe(jfk, { language: 'en', signal: ac.signal });
  const queued = engine.transcribe(jfk, { language: 'en' });
  // Handlers attached before the abort, so the rejection is never "unhandled".
  const abortedWhileQueued = assert.rejects(engine.transcribe(jfk, { language: 'en', signal: ac.signal }), /aborted/);
  const abortedWhileRunning = assert.rejects(running, TranscriptionAbortedError);
  await assert.rejects(engine.transcribe(jfk, { language: 'en' }), EngineBusyError);
  assert.equal(engine.load().queued, 2);
  ac.abort();
  await abortedWhileRunning;
  await abortedWhileQueued;
  const r = await queued;
  assert.match(words(r.text), /ask not/);
});

test('a stream final overtakes a long-form window already being decoded (preempted between model runs)', async () => {
  const long = new Float32Array(jfk.length * 2);
  long.set(jfk);
  long.set(jfk, jfk.length);
  const order: string[] = [];
  const batch = engine.transcribe(long, { language: 'en', priority: 'batch' }).then((r) => { order.push('batch'); return r; });
  // Let the batch window reach the inference process; had the stream come first it would win anyway.
  await new Promise((r) => setTimeout(r, 300));
  const stream = engine.transcribe(jfk.subarray(0, 16000 * 3), { language: 'en', priority: 'stream', beamSize: 1 }).then(() => order.push('stream'));
  const [b] = await Promise.all([batch, stream]);
  assert.deepEqual(order, ['stream', 'batch']);
  assert.match(words(b.text), /ask not what your country can do for you.*ask not/);
});

test('a killed inference process fails its request, and the next one is served by a new process', async () => {
  const inferencePid = (): number => {
    const out = execFileSync('pgrep', ['-P', String(process.pid), '-f', 'whisper/worker[.][jt]s'], { encoding: 'utf8' });
    return Number(out.trim().split('\n')[0]);
  };
  const victim = inferencePid();
  const running = engine.transcribe(jfk, { language: 'en' });
  const failed = assert.rejects(running, EngineFailedError);
  process.kill(victim, 'SIGKILL'); // a real crash: nothing else can stand in for it
  await failed;
  const r = await engine.transcribe(jfk, { language: 'en', beamSize: 1 });
  assert.match(words(r.text), /ask not/);
  assert.notEqual(inferencePid(), victim);
});
