import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';

import { decodeFile, ffmpegAvailable } from '../../src/media/decode.js';
import { amplitudeEnvelope } from '../../src/media/envelope.js';
import { testdataDir } from '../helpers/media-fixtures.js';

const run = promisify(execFile);
const skip = (await ffmpegAvailable()) ? false : 'ffmpeg/ffprobe not installed';

function assertPositiveInts(values: number[]): void {
  for (const [i, v] of values.entries()) {
    assert.ok(Number.isInteger(v) && v >= 1 && v <= 32767, `value ${i} is ${v}`);
  }
}

describe('amplitudeEnvelope on real audio', { skip }, () => {
  let work: string;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'sori-envelope-test-'));
  });
  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  test('a recording gives 50 positive ints per second', async () => {
    const { pcm, durationS } = await decodeFile(join(testdataDir(), 'en', 'jfk.flac'));
    const envelope = amplitudeEnvelope(pcm);
    assert.equal(envelope.length, Math.ceil(durationS * 50));
    assertPositiveInts(envelope);
    assert.ok(Math.max(...envelope) > 10 * Math.min(...envelope), 'speech and pauses should differ');
  });

  test('loud, silent and quiet parts are told apart', async () => {
    // sox: 1 s of tone at half scale, 1 s of digital silence, 0.5 s of tone at a tenth.
    const loud = join(work, 'loud.wav');
    const silent = join(work, 'silent.wav');
    const quiet = join(work, 'quiet.wav');
    const joined = join(work, 'loud-silent-quiet.flac');
    const format = ['-r', '16000', '-c', '1', '-b', '16'];
    await run('sox', ['-n', ...format, loud, 'synth', '1', 'sine', '440', 'vol', '0.5']);
    await run('sox', ['-n', ...format, silent, 'trim', '0', '1']);
    await run('sox', ['-n', ...format, quiet, 'synth', '0.5', 'sine', '440', 'vol', '0.1']);
    await run('sox', [loud, silent, quiet, joined]);

    const { pcm } = await decodeFile(joined);
    const envelope = amplitudeEnvelope(pcm);
    assert.equal(envelope.length, 125);
    assertPositiveInts(envelope);

    const near = (value: number, expected: number): boolean => Math.abs(value - expected) <= expected * 0.05;
    assert.ok(envelope.slice(0, 50).every((v) => near(v, 0.5 * 32767)), `loud part: ${envelope.slice(0, 50)}`);
    assert.deepEqual(envelope.slice(50, 100), new Array(50).fill(1));
    assert.ok(envelope.slice(100).every((v) => near(v, 0.1 * 32767)), `quiet part: ${envelope.slice(100)}`);
  });
});

describe('amplitudeEnvelope framing', () => {
  test('a partial last frame still gets a value', () => {
    assert.equal(amplitudeEnvelope(new Float32Array(16000)).length, 50);
    assert.equal(amplitudeEnvelope(new Float32Array(16001)).length, 51);
    assert.equal(amplitudeEnvelope(new Float32Array(319)).length, 1);
    assert.deepEqual(amplitudeEnvelope(new Float32Array(0)), []);
  });

  test('each value is the peak of its own 20 ms frame, full scale 32767', () => {
    const pcm = new Float32Array(16000);
    pcm[0] = -1; // frame 0, negative peaks count too
    pcm[320 + 100] = 0.25; // frame 1
    pcm[639] = 0.5; // last sample of frame 1
    pcm[640] = 2; // out-of-range input is capped, frame 2
    const envelope = amplitudeEnvelope(pcm);
    assert.deepEqual(envelope.slice(0, 4), [32767, 16384, 32767, 1]);
  });

  test('other rates divide the audio evenly', () => {
    const pcm = new Float32Array(16000 * 2);
    assert.equal(amplitudeEnvelope(pcm, 100).length, 200);
    assert.equal(amplitudeEnvelope(pcm, 30).length, 60);
    assert.equal(amplitudeEnvelope(pcm, 1).length, 2);
  });

  test('a rate that is not positive is refused', () => {
    assert.throws(() => amplitudeEnvelope(new Float32Array(10), 0), RangeError);
    assert.throws(() => amplitudeEnvelope(new Float32Array(10), Number.NaN), RangeError);
  });
});
