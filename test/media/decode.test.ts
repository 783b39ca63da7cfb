import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';

import { decodeBuffer, decodeFile, ffmpegAvailable, MediaError, memoryLimitEnforceable, probeFile, type MediaErrorKind } from '../../src/media/decode.js';
import {
  ffmpeg,
  formatFidelity,
  makeLongAudio,
  makeLyingFlac,
  makeMediaFile,
  makePngBomb,
  makeSilentFlac,
  MEDIA_FORMATS,
  testdataDir,
} from '../helpers/media-fixtures.js';

const run = promisify(execFile);
const SAMPLE_RATE = 16000;
const SOURCE = join(testdataDir(), 'en', 'jfk.flac');
const SOURCE_SECONDS = 11.0;

const skip = (await ffmpegAvailable()) ? false : 'ffmpeg/ffprobe not installed';

let work: string;
let reference: Float32Array;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'sori-decode-test-'));
  if (!skip) reference = (await decodeFile(SOURCE)).pcm;
});

after(async () => {
  await rm(work, { recursive: true, force: true });
});

async function rejectsWith(promise: Promise<unknown>, kind: MediaErrorKind): Promise<MediaError> {
  const err = await promise.then(
    () => assert.fail(`expected a MediaError '${kind}', but decoding succeeded`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof MediaError, `expected a MediaError, got ${String(err)}`);
  assert.equal(err.kind, kind, `wrong kind; message: ${err.message}`);
  // Messages go to API clients: short, and never a raw stderr dump.
  assert.ok(err.message.length <= 400, `message too long (${err.message.length} chars)`);
  return err;
}

function rms(x: Float32Array): number {
  let sum = 0;
  for (const v of x) sum += v * v;
  return Math.sqrt(sum / x.length);
}

/**
 * Normalised cross-correlation of `decoded` with `ref`, at the lag that best aligns them:
 * lossy codecs add a few ms of encoder delay. The lag is found on the loudest second of the
 * reference and the correlation then measured over the whole overlap.
 */
function alignedCorrelation(ref: Float32Array, decoded: Float32Array, maxLag = 1600): { lag: number; ncc: number } {
  const window = SAMPLE_RATE;
  let loudest = maxLag;
  let loudestEnergy = -1;
  for (let s = maxLag; s + window + maxLag <= ref.length; s += window / 4) {
    let e = 0;
    for (let i = s; i < s + window; i++) e += ref[i] * ref[i];
    if (e > loudestEnergy) [loudest, loudestEnergy] = [s, e];
  }
  let bestLag = 0;
  let bestScore = -Infinity;
  for (let lag = -maxLag; lag <= maxLag; lag++) {
    let score = 0;
    for (let i = loudest; i < loudest + window; i++) score += ref[i] * (decoded[i + lag] ?? 0);
    if (score > bestScore) [bestLag, bestScore] = [lag, score];
  }
  let dot = 0;
  let refEnergy = 0;
  let decEnergy = 0;
  for (let i = Math.max(0, -bestLag); i < ref.length && i + bestLag < decoded.length; i++) {
    const a = ref[i];
    const b = decoded[i + bestLag];
    dot += a * b;
    refEnergy += a * a;
    decEnergy += b * b;
  }
  return { lag: bestLag, ncc: dot / Math.sqrt(refEnergy * decEnergy) };
}

function assertInRange(pcm: Float32Array): void {
  for (let i = 0; i < pcm.length; i++) {
    if (!(pcm[i] >= -1 && pcm[i] <= 1)) assert.fail(`sample ${i} is ${pcm[i]}, outside [-1, 1]`);
  }
}

/** PIDs of live processes whose command line mentions `needle`. */
async function processesMentioning(needle: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(needle)) pids.push(Number(entry));
  }
  return pids;
}

/** Deterministic pseudo-random bytes, so the "garbage" input is the same on every run. */
function pseudoRandomBytes(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let state = seed >>> 0;
  for (let i = 0; i < length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = state >>> 24;
  }
  return out;
}

describe('decodeFile: every supported format', { skip }, () => {
  test('the FLAC reference decodes exactly', () => {
    assert.equal(reference.length, SOURCE_SECONDS * SAMPLE_RATE);
    assert.ok(rms(reference) > 0.01, 'the reference clip should not be near-silent');
  });

  for (const format of MEDIA_FORMATS) {
    test(format, async () => {
      const file = await makeMediaFile(SOURCE, format, work);
      const { pcm, durationS } = await decodeFile(file);

      assert.equal(durationS, pcm.length / SAMPLE_RATE);
      assert.ok(Math.abs(durationS - SOURCE_SECONDS) <= 0.1, `duration ${durationS} s, source ${SOURCE_SECONDS} s`);
      assertInRange(pcm);

      const loudness = rms(pcm) / rms(reference);
      assert.ok(loudness > 0.85 && loudness < 1.15, `RMS is ${loudness.toFixed(3)}x the source's`);

      // Lossless formats must be the same waveform; lossy ones stay close at these bitrates.
      const fidelity = formatFidelity(format);
      const minCorrelation = fidelity === 'lossless' ? 0.999 : 0.95;
      const { lag, ncc } = alignedCorrelation(reference, pcm);
      assert.ok(ncc > minCorrelation, `correlation with the source ${ncc.toFixed(4)} (lag ${lag}) ≤ ${minCorrelation}`);
      if (fidelity === 'lossless') assert.equal(lag, 0);
    });
  }

  test('stereo is averaged to mono, not reduced to one channel', async () => {
    // Left carries the clip, right is silent: the mono mix is the clip at half amplitude.
    const file = join(work, 'left-only.wav');
    await ffmpeg(['-i', SOURCE, '-af', 'pan=stereo|c0=c0|c1=0*c0', '-c:a', 'pcm_s16le', file]);
    const { pcm } = await decodeFile(file);
    const ratio = rms(pcm) / rms(reference);
    assert.ok(Math.abs(ratio - 0.5) < 0.02, `mono RMS is ${ratio.toFixed(3)}x the left channel's`);
    assert.ok(alignedCorrelation(reference, pcm).ncc > 0.999);
  });
});

describe('decodeBuffer', { skip }, () => {
  // os.tmpdir() follows TMPDIR, so pointing it at a fresh dir shows exactly what is left behind.
  let privateTmp: string;
  let savedTmpdir: string | undefined;
  before(async () => {
    privateTmp = join(work, 'private-tmp');
    await mkdir(privateTmp);
    savedTmpdir = process.env.TMPDIR;
    process.env.TMPDIR = privateTmp;
  });
  after(() => {
    if (savedTmpdir === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = savedTmpdir;
  });

  for (const format of ['mp4', 'm4a', 'mp3'] as const) {
    test(`${format} from memory (needs a seekable temp file) leaves no temp file behind`, async () => {
      const file = await makeMediaFile(SOURCE, format, work);
      const { durationS } = await decodeBuffer(await readFile(file));
      assert.ok(Math.abs(durationS - SOURCE_SECONDS) <= 0.1, `duration ${durationS} s`);
      assert.deepEqual(await readdir(privateTmp), []);
    });
  }

  test('a failed decode also removes its temp file', async () => {
    await rejectsWith(decodeBuffer(Buffer.from('definitely not audio\n')), 'undecodable');
    assert.deepEqual(await readdir(privateTmp), []);
  });

  test('zero bytes is empty, without touching the disk', async () => {
    await rejectsWith(decodeBuffer(Buffer.alloc(0)), 'empty');
    assert.deepEqual(await readdir(privateTmp), []);
  });
});

describe('decodeFile: bad media', { skip }, () => {
  test('a zero-byte file is empty', async () => {
    const file = join(work, 'zero.wav');
    await writeFile(file, '');
    await rejectsWith(decodeFile(file), 'empty');
  });

  test('a WAV with a header but no samples is empty', async () => {
    const file = join(work, 'no-samples.wav');
    await ffmpeg(['-f', 'lavfi', '-i', 'anullsrc=r=16000:cl=mono', '-t', '0', '-c:a', 'pcm_s16le', file]);
    await rejectsWith(decodeFile(file), 'empty');
  });

  test('random bytes are undecodable', async () => {
    const file = join(work, 'random.bin');
    await writeFile(file, pseudoRandomBytes(64 * 1024, 12345));
    await rejectsWith(decodeFile(file), 'undecodable');
  });

  test('a text file is undecodable', async () => {
    const file = join(work, 'notes.txt');
    await writeFile(file, 'Meeting notes\nThis is plain text, not audio.\n'.repeat(50));
    await rejectsWith(decodeFile(file), 'undecodable');
  });

  test('a subtitle file is undecodable rather than "no audio"', async () => {
    const file = join(work, 'captions.srt');
    await writeFile(file, '1\n00:00:00,000 --> 00:00:02,000\nHello there.\n\n2\n00:00:02,500 --> 00:00:04,000\nBye.\n');
    await rejectsWith(decodeFile(file), 'undecodable');
  });

  test('an MP4 with only video has no audio', async () => {
    const file = join(work, 'video-only.mp4');
    await ffmpeg(['-f', 'lavfi', '-i', 'color=c=black:s=64x64:r=5', '-t', '3', '-c:v', 'mpeg4', file]);
    const err = await rejectsWith(decodeFile(file), 'no-audio');
    assert.match(err.message, /video/);
  });

  for (const format of ['mp3', 'flac', 'm4a'] as const) {
    test(`the first 20% of a ${format} decodes partially or is undecodable`, async () => {
      const whole = await readFile(await makeMediaFile(SOURCE, format, work));
      const file = join(work, `truncated.${format}`);
      await writeFile(file, whole.subarray(0, Math.floor(whole.length * 0.2)));
      try {
        const { pcm, durationS } = await decodeFile(file);
        assert.ok(durationS > 0 && durationS < SOURCE_SECONDS * 0.5, `partial duration ${durationS} s`);
        assertInRange(pcm);
      } catch (err) {
        assert.ok(err instanceof MediaError, `expected a MediaError, got ${String(err)}`);
        assert.equal(err.kind, 'undecodable', err.message);
      }
    });
  }

  // Uploads must never make the server open its own files (or URLs) named inside them.
  test('a playlist pointing at another file on the server is refused', async () => {
    const target = await makeMediaFile(SOURCE, 'mp3', work);
    const playlist = join(work, 'playlist.m3u8');
    await writeFile(playlist, `#EXTM3U\n#EXT-X-TARGETDURATION:12\n#EXTINF:11,\n${target}\n#EXT-X-ENDLIST\n`);
    const err = await rejectsWith(decodeFile(playlist), 'undecodable');
    assert.match(err.message, /refer to further files/);
    assert.ok(!err.message.includes(target), 'the message must not echo server paths');
  });

  test('a concat script pointing at another file on the server is refused', async () => {
    const target = await makeMediaFile(SOURCE, 'wav', work);
    const script = join(work, 'list.ffconcat');
    await writeFile(script, `ffconcat version 1.0\nfile '${target.split('/').pop()}'\n`);
    const err = await rejectsWith(decodeFile(script), 'undecodable');
    assert.match(err.message, /refer to further files/);
  });

  test('a missing file is a plain error, not the media\'s fault', async () => {
    await assert.rejects(decodeFile(join(work, 'does-not-exist.wav')), (err: unknown) => {
      assert.ok(!(err instanceof MediaError));
      assert.equal((err as NodeJS.ErrnoException).code, 'ENOENT');
      return true;
    });
  });
});

describe('decodeFile: length limit', { skip }, () => {
  let seventySeconds: string;
  before(async () => {
    seventySeconds = await makeLongAudio(SOURCE, 70, work);
  });

  test('70 s with maxSeconds 60 is too long', async () => {
    const err = await rejectsWith(decodeFile(seventySeconds, { maxSeconds: 60 }), 'too-long');
    assert.match(err.message, /60/);
  });

  test('70 s with maxSeconds 80 decodes in full', async () => {
    const { durationS } = await decodeFile(seventySeconds, { maxSeconds: 80 });
    assert.ok(Math.abs(durationS - 70) <= 0.1, `duration ${durationS} s`);
  });

  test('a clip exactly at the limit is accepted', async () => {
    const { durationS } = await decodeFile(SOURCE, { maxSeconds: SOURCE_SECONDS });
    assert.equal(durationS, SOURCE_SECONDS);
  });

  test('encoder padding just past the limit is trimmed, not rejected', async () => {
    // ADTS AAC keeps its 1024 priming samples and pads the last frame: 11 s decodes a bit longer.
    const file = await makeMediaFile(SOURCE, 'aac', work);
    assert.ok((await decodeFile(file)).durationS > SOURCE_SECONDS);
    const { durationS } = await decodeFile(file, { maxSeconds: SOURCE_SECONDS });
    assert.equal(durationS, SOURCE_SECONDS);
  });
});

describe('decodeFile: stopping ffmpeg', { skip }, () => {
  // A FIFO nobody writes to makes ffprobe/ffmpeg block in open() for real: a genuine hang.
  async function makeFifo(name: string): Promise<string> {
    const path = join(work, name);
    await run('mkfifo', [path]);
    return path;
  }

  test('an already aborted signal rejects without starting anything', async () => {
    const file = await makeMediaFile(SOURCE, 'wav', work);
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(decodeFile(file, { signal: controller.signal }), { name: 'AbortError' });
  });

  test('aborting kills the decoder and rejects with the abort reason', async () => {
    const fifo = await makeFifo('abort.fifo');
    const controller = new AbortController();
    let settled = false;
    const decoding = decodeFile(fifo, { signal: controller.signal }).finally(() => {
      settled = true;
    });
    // Abort only once the tool is really running and blocked on the FIFO.
    while (!settled && (await processesMentioning(fifo)).length === 0) await new Promise((r) => setTimeout(r, 20));
    controller.abort();
    await assert.rejects(decoding, { name: 'AbortError' });
    // decodeFile settles only after the process has exited.
    assert.deepEqual(await processesMentioning(fifo), []);
  });

  test('a decode that never finishes times out as undecodable and leaves no process', async () => {
    const fifo = await makeFifo('timeout.fifo');
    await rejectsWith(decodeFile(fifo, { timeoutMs: 300 }), 'undecodable');
    assert.deepEqual(await processesMentioning(fifo), []);
  });
});

describe('decodeFile: media longer than it looks', { skip }, () => {
  test('26 KB of FLAC that decodes to 3 hours is too long for 60 s, decoding stopped past the limit', async () => {
    const bomb = await makeSilentFlac(3 * 3600, work);
    const err = await rejectsWith(decodeFile(bomb, { maxSeconds: 60 }), 'too-long');
    assert.match(err.message, /60 s/);
  });

  test('a header claiming 10 s over 3 hours of frames: the claim is what ffprobe says, the decoded length is what counts', async () => {
    const liar = await makeLyingFlac(3 * 3600, 10, work);
    assert.equal((await probeFile(liar)).durationS, 10);
    await rejectsWith(decodeFile(liar, { maxSeconds: 60 }), 'too-long');
  });

  test('a WAV header claiming 3 hours over 2 s of samples is read as the 2 s it holds', async () => {
    const wav = join(work, 'claims-hours.wav');
    await ffmpeg(['-i', SOURCE, '-t', '2', '-ac', '1', '-ar', '16000', '-c:a', 'pcm_s16le', wav]);
    const bytes = await readFile(wav);
    const data = bytes.indexOf('data', 12, 'latin1');
    bytes.writeUInt32LE(16000 * 2 * 3 * 3600, data + 4);
    bytes.writeUInt32LE(bytes.readUInt32LE(data + 4) + data, 4);
    await writeFile(wav, bytes);
    // ffmpeg's WAV reader bounds the data chunk by the file's size: the claim fools neither tool.
    assert.equal((await probeFile(wav)).durationS, 2);
    const { durationS } = await decodeFile(wav, { maxSeconds: 60 });
    assert.ok(Math.abs(durationS - 2) < 0.01, `decoded ${durationS} s`);
  });
});

describe('decodeFile: memory limit', { skip }, () => {
  test('a limit too small for ffmpeg fails as undecodable and names the limit', async (t) => {
    if (!(await memoryLimitEnforceable())) return t.skip('prlimit (util-linux) is not installed');
    const err = await rejectsWith(decodeFile(SOURCE, { memoryLimitBytes: 64 * 1024 * 1024 }), 'undecodable');
    assert.match(err.message, /64 MB memory limit/);
  });

  test('a PNG bomb beside the audio: under a 512 MB limit the frame is skipped and the audio decodes', async (t) => {
    if (!(await memoryLimitEnforceable())) return t.skip('prlimit (util-linux) is not installed');
    const bomb = await makePngBomb(SOURCE, work);
    const { pcm } = await decodeFile(bomb, { memoryLimitBytes: 512 * 1024 * 1024 });
    assert.ok(Math.abs(pcm.length - reference.length) <= 16, `${pcm.length} samples, reference ${reference.length}`);
    assert.ok(alignedCorrelation(reference, pcm).ncc > 0.999);
  });
});
