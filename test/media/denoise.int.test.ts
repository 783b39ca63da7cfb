import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { clampInPlace, decodeFile, ffmpegAvailable, ffmpegInputArgs, PCM_OUTPUT_ARGS } from '../../src/media/decode.js';
import { DENOISE, denoiseArgs, ffmpegFilterArgs, MEASURED_BEST_FILTER } from '../../src/media/denoise.js';
import { ffmpeg, testdataDir } from '../helpers/media-fixtures.js';

const SOURCE = join(testdataDir(), 'en', 'jfk.flac');
const skip = (await ffmpegAvailable()) ? false : 'ffmpeg/ffprobe not installed';

let work: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'sori-denoise-test-'));
});

after(async () => {
  await rm(work, { recursive: true, force: true });
});

/** The server's decode with `extra` spliced between the input and the PCM output options. */
async function decodeWith(path: string, extra: string[]): Promise<Float32Array> {
  const child = spawn(
    'ffmpeg',
    ['-nostdin', '-hide_banner', '-loglevel', 'error', ...(await ffmpegInputArgs(path)), ...extra, ...PCM_OUTPUT_ARGS],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const chunks: Buffer[] = [];
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => chunks.push(c));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  assert.equal(code, 0, `ffmpeg ${extra.join(' ')} failed: ${stderr}`);
  const buf = Buffer.concat(chunks);
  const pcm = new Float32Array(buf.length / 4);
  new Uint8Array(pcm.buffer).set(buf);
  clampInPlace(pcm); // as decodeFile does
  return pcm;
}

function rmsDb(x: Float32Array): number {
  let s = 0;
  for (const v of x) s += v * v;
  return 10 * Math.log10(s / x.length);
}

describe('noiseFiltering', () => {
  test('is a no-op by design: measured not to help (bench/noise.ts)', () => {
    assert.equal(DENOISE.enabled, false);
    assert.equal(DENOISE.filter, undefined);
    assert.match(DENOISE.reason, /bench\/noise\.ts/);
    // Whatever the request asks for, nothing is added to ffmpeg's arguments.
    assert.deepEqual(denoiseArgs(true), []);
    assert.deepEqual(denoiseArgs(false), []);
  });

  test('ffmpegFilterArgs makes one -af option, and nothing for no filter', () => {
    assert.deepEqual(ffmpegFilterArgs('highpass=f=80,afftdn'), ['-af', 'highpass=f=80,afftdn']);
    assert.deepEqual(ffmpegFilterArgs(undefined), []);
    assert.deepEqual(ffmpegFilterArgs('  '), []);
  });

  test('decoding with the spliced arguments gives exactly the plain decode', { skip }, async () => {
    const plain = (await decodeFile(SOURCE)).pcm;
    for (const enabled of [true, false]) {
      const spliced = await decodeWith(SOURCE, denoiseArgs(enabled));
      assert.equal(spliced.length, plain.length);
      assert.ok(Buffer.from(spliced.buffer).equals(Buffer.from(plain.buffer, plain.byteOffset, plain.byteLength)), 'not bit-identical');
    }
  });

  // The rejection is meaningful only if the rejected filter really worked: it runs in the
  // server's decode position on a real clip, keeps the speech, and removes noise.
  test('the rejected filter ran for real: speech kept, noise reduced', { skip }, async () => {
    const plain = (await decodeFile(SOURCE)).pcm;
    const filtered = await decodeWith(SOURCE, ffmpegFilterArgs(MEASURED_BEST_FILTER));
    assert.equal(filtered.length, plain.length);
    let maxDiff = 0;
    for (let i = 0; i < plain.length; i++) maxDiff = Math.max(maxDiff, Math.abs(plain[i] - filtered[i]));
    assert.ok(maxDiff > 1e-3, 'the filter changed nothing');
    // afftdn delays its output (400 samples = 25 ms at 16 kHz in ffmpeg 5.1): compare at the
    // best lag within 64 ms.
    let best = { corr: -1, lag: 0 };
    for (let lag = 0; lag <= 1024; lag++) {
      let dot = 0;
      let pp = 0;
      let ff = 0;
      for (let i = 0; i + lag < filtered.length; i += 4) {
        dot += plain[i] * filtered[i + lag];
        pp += plain[i] * plain[i];
        ff += filtered[i + lag] * filtered[i + lag];
      }
      const corr = dot / Math.sqrt(pp * ff);
      if (corr > best.corr) best = { corr, lag };
    }
    assert.ok(best.corr > 0.99, `the speech did not survive the filter (correlation ${best.corr.toFixed(3)} at lag ${best.lag})`);

    // Pink noise alone (about -34 dBFS): measured -34.5 -> -37.9 dB after the first second.
    const noise = join(work, 'pink.wav');
    await ffmpeg(['-f', 'lavfi', '-i', 'anoisesrc=color=pink:seed=7:amplitude=0.1:sample_rate=16000:duration=3', '-c:a', 'pcm_f32le', noise]);
    const before = await decodeWith(noise, []);
    const afterFilter = await decodeWith(noise, ffmpegFilterArgs(MEASURED_BEST_FILTER));
    const tail = (x: Float32Array) => x.subarray(16000);
    const reduction = rmsDb(tail(before)) - rmsDb(tail(afterFilter));
    assert.ok(reduction >= 2, `noise reduced by only ${reduction.toFixed(2)} dB`);
  });
});
