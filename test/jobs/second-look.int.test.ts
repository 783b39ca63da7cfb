/**
 * The second look at VAD speech the first pass's words leave uncovered, on the real engine, VAD
 * and audio. A first pass that loses a sentence for real needs a window's search to end early
 * (it happened at engine.windowBatch 4 on the 3-minute dialogue, through per-tensor rounding);
 * the first test takes one sentence out of a real first pass instead, which is what such a
 * search leaves. The second runs the job path where it happened.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine } from '../../src/speech/index.js';
import { SileroVad } from '../../src/speech/vad/silero.js';
import { recognizeMedia } from '../../src/jobs/recognize.js';
import { secondLook } from '../../src/jobs/second-look.js';
import { modelsDir, testdataDir } from '../helpers/media-fixtures.js';
import { startServer, testConfig, testDomain, testEngine } from '../helpers/server.js';
import { registerSecrets } from '../helpers/test-logs.js';

test('a sentence the first pass lost, where VAD heard speech, comes back from the second look; nothing else is looked at', async () => {
  const engine = createEngine({ modelsDir: modelsDir(), model: 'whisper-base', threads: 2, parallel: 1, queueLimit: 4, beamSize: 2 });
  const vad = await SileroVad.load(join(modelsDir(), 'silero-vad'));
  const mediaPath = join(testdataDir(), 'en/jobs_dots.flac');
  try {
    const first = await recognizeMedia(engine, vad, { mediaPath, language: 'en', resumeAtMs: 0, done: [], durationS: 35.3 });
    assert.ok(first.speech.length >= 3, `VAD utterances: ${JSON.stringify(first.speech)}`);
    for (const s of first.segments) {
      assert.ok(first.speech.some((u) => u.start <= s.words[0][0] + 300 && u.end >= s.words.at(-1)![1] - 300), `segment ${s.start}-${s.end} inside VAD speech`);
    }
    const complete = await secondLook(engine, { mediaPath, language: 'en', mediaMs: first.durationMs }, first.segments, first.speech);
    assert.equal(complete.spans, 0, 'a first pass that heard every utterance gets no second look');

    const lost = first.segments.findIndex((s) => /believing that the dots/i.test(s.text));
    assert.ok(lost >= 0, first.segments.map((s) => s.text).join(' | '));
    const kept = first.segments.filter((_, i) => i !== lost);
    const look = await secondLook(engine, { mediaPath, language: 'en', mediaMs: first.durationMs }, kept, first.speech);
    assert.equal(look.spans, 1);
    assert.equal(look.kept, 1);
    const found = look.segments.map((s) => s.text).join(' ');
    assert.match(found, /believing that the dots will connect/i);
    const gone = first.segments[lost];
    for (const s of look.segments) {
      assert.ok(s.start >= gone.start - 1000 && s.end <= gone.end + 1000, `${s.start}-${s.end} where the lost sentence was (${gone.start}-${gone.end})`);
      assert.ok(s.words.length > 0);
    }
  } finally {
    await engine.close();
    await vad.close();
  }
});

test('a job whose window search ends before its last sentence keeps that sentence (engine.windowBatch 4, the 3-minute dialogue)', async () => {
  // The server's default beam (5), where that search ended early.
  const engine = testEngine({ windowBatch: 4, beamSize: 5 });
  const key = 'second-look-int-secret';
  registerSecrets('domain', key);
  const config = testConfig([testDomain('general', key)]);
  config.dataDir = await mkdtemp(join(tmpdir(), 'sori-second-look-'));
  const server = await startServer(engine, [], { jobsConfig: config });
  try {
    const form = new FormData();
    form.set('media', new Blob([await readFile(join(testdataDir(), 'ko/dialog_etts_lmy_kih_3min.flac'))]), 'dialog.flac');
    form.set('params', JSON.stringify({ language: 'ko-KR', completion: 'sync', diarization: { enable: false } }));
    const res = await fetch(`${server.url}/recognizer/upload`, { method: 'POST', headers: { 'X-CLOVASPEECH-API-KEY': key }, body: form });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { result: string; segments: { start: number; end: number; text: string }[] };
    assert.equal(body.result, 'COMPLETED');
    // "이코너미석에서 비즈니스석으로 승급이 되셨습니다." at 88.4-91.4 s, which the first pass lost here.
    const there = body.segments.filter((s) => s.end > 88_000 && s.start < 92_000).map((s) => s.text).join(' ');
    assert.match(there, /비즈니스/);
    for (let i = 1; i < body.segments.length; i++) assert.ok(body.segments[i].start >= body.segments[i - 1].start);
  } finally {
    await server.close();
    await engine.close();
    await rm(config.dataDir, { recursive: true, force: true });
  }
});
