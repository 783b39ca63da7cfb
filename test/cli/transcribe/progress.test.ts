import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { createTranscribeReporter, doneLine, etaOf, formatClock, speedOf } from '../../../src/cli/transcribe/progress.js';

test('speed counts media processed up to the last progress step; ETA the rest at that speed', () => {
  const t = { startedAt: 0, progressAt: 10_000, durationS: 60, fraction: 0.5 };
  assert.equal(speedOf(t), 3);
  assert.equal(etaOf(t, 10_000), 10);
  assert.equal(etaOf(t, 14_000), 6);
  assert.equal(etaOf(t, 30_000), 0);
  assert.equal(speedOf({ ...t, fraction: 0 }), undefined);
  assert.equal(speedOf({ ...t, durationS: undefined }), undefined);
});

test('the last line of a file: its time and x real time', () => {
  assert.equal(doneLine({ startedAt: 0, progressAt: 0, durationS: 50.4, fraction: 1 }, 12_300), 'done in 12.3 s (4.1x real time)');
  assert.equal(doneLine({ startedAt: 0, progressAt: 0, durationS: undefined, fraction: 1 }, 250_000), 'done in 250 s');
  assert.equal(formatClock(61), '1:01');
  assert.equal(formatClock(3725), '1:02:05');
});

test('piped: plain lines, a percentage at most every interval, no escape codes', () => {
  const out = new PassThrough();
  let text = '';
  out.on('data', (c: Buffer) => (text += c.toString()));
  const reporter = createTranscribeReporter(out as unknown as NodeJS.WriteStream, ['a.wav'], { lineEveryMs: 0 });
  reporter.started('a.wav');
  reporter.duration('a.wav', 62);
  reporter.progress('a.wav', 0.4);
  reporter.progress('a.wav', 0.4);
  reporter.progress('a.wav', 0.3);
  reporter.progress('a.wav', 0.8);
  reporter.done('a.wav');
  reporter.failed('b.wav', 'no such file');
  reporter.stop();
  const lines = text.split('\n');
  assert.deepEqual(lines.slice(0, 3), ['a.wav: started (1:02 of media)', 'a.wav: 40%', 'a.wav: 80%']);
  assert.match(lines[3]!, /^a\.wav: done in \d+\.\d s/);
  assert.equal(lines[4], 'b.wav: failed: no such file');
  assert.doesNotMatch(text, /\u001b/);
});
