/**
 * streamPcm's bounds, with real ffmpeg on real files: decoding stops past maxSeconds whatever the
 * container claims, an ffmpeg that produces nothing is killed, and the memory limit applies.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { ffmpegAvailable, MediaError, memoryLimitEnforceable, probeFile } from '../../src/media/decode.js';
import { STREAM_MAX_SLACK_S, streamPcm, type PcmStreamOptions } from '../../src/media/pcm-stream.js';
import { makeLyingFlac, testdataDir } from '../helpers/media-fixtures.js';

const run = promisify(execFile);
const SAMPLE_RATE = 16000;
const SOURCE = join(testdataDir(), 'en', 'jfk.flac');
const skip = (await ffmpegAvailable()) ? false : 'ffmpeg/ffprobe not installed';

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'sori-pcm-stream-test-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Samples read before the stream ended, and how it ended. */
async function drain(path: string, opts: PcmStreamOptions): Promise<{ samples: number; error: unknown }> {
  let samples = 0;
  try {
    for await (const chunk of streamPcm(path, opts)) samples += chunk.length;
    return { samples, error: undefined };
  } catch (error) {
    return { samples, error };
  }
}

async function processesMentioning(needle: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(needle)) pids.push(Number(entry));
  }
  return pids;
}

describe('streamPcm: bounds', { skip }, () => {
  test('a container claiming 10 s over 3 hours: decoding stops just past maxSeconds, too-long', async () => {
    const liar = await makeLyingFlac(3 * 3600, 10, work);
    assert.equal((await probeFile(liar)).durationS, 10, 'the probe sees only the claim');
    const { samples, error } = await drain(liar, { maxSeconds: 60 });
    assert.ok(error instanceof MediaError && error.kind === 'too-long', `ended with ${String(error)}`);
    assert.ok(samples <= (60 + STREAM_MAX_SLACK_S) * SAMPLE_RATE, `${samples / SAMPLE_RATE} s yielded`);
    assert.deepEqual(await processesMentioning(liar), [], 'ffmpeg is gone');
  });

  test('maxSeconds counts from the start of the media when resuming', async () => {
    const liar = await makeLyingFlac(600, 10, work);
    const { samples, error } = await drain(liar, { startS: 50, maxSeconds: 60 });
    assert.ok(error instanceof MediaError && error.kind === 'too-long');
    assert.ok(samples <= (10 + STREAM_MAX_SLACK_S) * SAMPLE_RATE, `${samples / SAMPLE_RATE} s yielded after 50 s`);
  });

  test('media within maxSeconds streams whole', async () => {
    const { samples, error } = await drain(SOURCE, { maxSeconds: 11 });
    assert.equal(error, undefined);
    assert.equal(samples, 11 * SAMPLE_RATE);
  });

  test('an ffmpeg that produces nothing is killed after the stall timeout', async () => {
    // A FIFO nobody writes to: ffmpeg blocks in open() for real.
    const fifo = join(work, 'stalled.fifo');
    await run('mkfifo', [fifo]);
    const { error } = await drain(fifo, { stallTimeoutMs: 300 });
    assert.ok(error instanceof MediaError && error.kind === 'undecodable', `ended with ${String(error)}`);
    assert.match(error.message, /no audio for 0\.3 s/);
    assert.deepEqual(await processesMentioning(fifo), []);
  });

  test('the memory limit applies to the streaming decoder too', async (t) => {
    if (!(await memoryLimitEnforceable())) return t.skip('prlimit (util-linux) is not installed');
    const { error } = await drain(SOURCE, { memoryLimitBytes: 64 * 1024 * 1024 });
    assert.ok(error instanceof MediaError && error.kind === 'undecodable', `ended with ${String(error)}`);
    assert.match(error.message, /64 MB memory limit/);
    const { samples } = await drain(SOURCE, { memoryLimitBytes: 1024 * 1024 * 1024 });
    assert.equal(samples, 11 * SAMPLE_RATE, 'a realistic limit decodes as usual');
  });
});
