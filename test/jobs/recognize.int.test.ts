import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createEngine } from '../../src/speech/index.js';
import { SileroVad } from '../../src/speech/vad/silero.js';
import { recognizeMedia } from '../../src/jobs/recognize.js';
import { modelsDir, testdataDir } from '../helpers/media-fixtures.js';

test('engine.windowBatch: a long-form job hands the engine its windows in groups and gets its segments, words and progress', async () => {
  const engine = createEngine({ modelsDir: modelsDir(), model: 'whisper-base', threads: 2, parallel: 1, queueLimit: 4, beamSize: 2, windowBatch: 2 });
  const vad = await SileroVad.load(join(modelsDir(), 'silero-vad'));
  try {
    await engine.ready();
    // Counts the grouped requests (instrumentation only: every call goes to the real engine).
    const groups: number[] = [];
    const many = engine.transcribeMany!.bind(engine);
    engine.transcribeMany = (pcms, opts) => {
      groups.push(pcms.length);
      return many(pcms, opts);
    };
    const progress: number[] = [];
    const out = await recognizeMedia(
      engine, vad,
      { mediaPath: join(testdataDir(), 'en/jobs_dots.flac'), language: 'en', resumeAtMs: 0, done: [], durationS: 35.3 },
      { onProgress: (f) => progress.push(f) },
    );
    assert.deepEqual(groups, [2], 'its two windows in one request');
    const text = out.segments.map((s) => s.text).join(' ').toLowerCase();
    assert.match(text, /connect the dots looking forward/);
    assert.match(text, /trust in something/);
    assert.ok(out.segments.every((s) => s.words.length > 0 && s.start < s.end), 'word timings on every segment');
    for (let i = 1; i < out.segments.length; i++) assert.ok(out.segments[i].start >= out.segments[i - 1].start);
    assert.ok(progress.length >= 2 && progress.at(-1)! > 0.9, JSON.stringify(progress));
  } finally {
    await engine.close();
    await vad.close();
  }
});
