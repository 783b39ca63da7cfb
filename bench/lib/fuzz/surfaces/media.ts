/**
 * Media decoding (`src/media/decode.ts`, what every route and job runs on uploaded bytes):
 * truncated and corrupted files of every supported format, a tiny file that decodes to hours,
 * WAV headers with absurd sample rates and channel counts, zero-length streams and video
 * without sound. Run in-process against the decoder the server uses (the routes' handling of
 * the outcome is fuzzed through the API by the short and long-form surfaces). Documented
 * outcomes: decoded audio, or a MediaError (empty, no-audio, undecodable, too-long) within the
 * time limit.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { decodeFile, MediaError } from '../../../../src/media/decode.js';
import type { FuzzCase, Outcome, Surface } from '../harness.js';
import { mangled } from '../arbitraries.js';
import { wavHeader } from '../../wav.js';

/** The short route's limit: a decode asked for at most this many seconds. */
const MAX_SECONDS = 60;
const TIMEOUT_MS = 60_000;

/** Each supported container/codec, made from the clip with ffmpeg (args after the input). */
const FORMATS: Record<string, string[]> = {
  'a.wav': ['-c:a', 'pcm_s16le'],
  'a.flac': ['-c:a', 'flac'],
  'a.mp3': ['-c:a', 'libmp3lame', '-b:a', '32k'],
  'a.ogg': ['-c:a', 'libvorbis'],
  'a.opus': ['-c:a', 'libopus', '-b:a', '16k'],
  'a.m4a': ['-c:a', 'aac', '-b:a', '32k'],
  'a.ac3': ['-c:a', 'ac3'],
  'a.aac': ['-c:a', 'aac', '-f', 'adts'],
  'a.mkv': ['-c:a', 'libopus'],
  'a.wma': ['-c:a', 'wmav2'],
  'a.flv': ['-c:a', 'libmp3lame', '-ar', '22050'],
  'v.mp4': ['-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=5', '-shortest', '-c:v', 'mpeg4', '-c:a', 'aac'],
  'v.avi': ['-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=5', '-shortest', '-c:v', 'mjpeg', '-c:a', 'pcm_s16le'],
};

export interface MediaFiles {
  dir: string;
  bases: Array<{ name: string; bytes: Uint8Array }>;
  specials: Array<{ family: string; name: string; bytes: Uint8Array }>;
}

function ffmpeg(args: string[]): void {
  execFileSync('ffmpeg', ['-v', 'error', '-y', ...args]);
}

/** Builds the base files and the special cases once per run (deterministic: ffmpeg's encoders are). */
export function buildMediaFiles(clip: Uint8Array): MediaFiles {
  const dir = mkdtempSync(join(tmpdir(), 'sori-fuzz-media-'));
  const src = join(dir, 'clip.wav');
  writeFileSync(src, clip);
  const bases = Object.entries(FORMATS).map(([name, args]) => {
    const out = join(dir, name);
    // Video formats add a second input after the clip; its options must precede it.
    const extra = args[0] === '-f' ? args.slice(0, 4) : [];
    ffmpeg(['-i', src, ...extra, ...(extra.length > 0 ? args.slice(4) : args), out]);
    return { name, bytes: new Uint8Array(readFileSync(out)) };
  });
  const file = (name: string, args: string[]): Uint8Array => {
    ffmpeg([...args, join(dir, name)]);
    return new Uint8Array(readFileSync(join(dir, name)));
  };
  const specials: MediaFiles['specials'] = [
    // Three hours of silence in 40 KB (FLAC's largest frames): refused from its length, not decoded.
    { family: 'tiny file, hours of audio', name: 'hours.flac', bytes: file('hours.flac', ['-f', 'lavfi', '-i', 'anullsrc=r=8000:cl=mono', '-t', '10800', '-c:a', 'flac', '-frame_size', '32768']) },
    { family: 'tiny file, hours of audio', name: 'hours.mka', bytes: file('hours.mka', ['-i', join(dir, 'hours.flac'), '-c:a', 'copy']) },
    { family: 'video without audio', name: 'silent.mp4', bytes: file('silent.mp4', ['-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=5', '-t', '2', '-c:v', 'mpeg4']) },
    { family: 'zero-length stream', name: 'empty.wav', bytes: lyingWav(16000, 1, 16, 0) },
    { family: 'zero-length stream', name: 'empty.mp4', bytes: file('empty.mp4', ['-f', 'lavfi', '-i', 'anullsrc=r=16000:cl=mono', '-t', '0', '-c:a', 'aac']) },
  ];
  return { dir, bases, specials };
}

/** A PCM WAV with the given header fields (lying ones included), then `dataBytes` of a tone. */
export function lyingWav(rate: number, channels: number, bits: number, dataBytes: number, claimedData = dataBytes): Uint8Array {
  const tone = Buffer.alloc(dataBytes);
  for (let i = 0; i < dataBytes; i++) tone[i] = Math.round(128 + 100 * Math.sin((i + 44) / 3)) & 0xff;
  return Buffer.concat([wavHeader({ sampleRate: rate, channels, bitsPerSample: bits }, claimedData), tone]);
}

async function decodeCase(dir: string, name: string, bytes: Uint8Array): Promise<Outcome> {
  const path = join(mkdtempSync(join(dir, 'c-')), name);
  writeFileSync(path, bytes);
  const started = Date.now();
  try {
    const audio = await decodeFile(path, { maxSeconds: MAX_SECONDS, timeoutMs: TIMEOUT_MS });
    return { label: 'decoded', documented: audio.durationS <= MAX_SECONDS + 1, detail: `${audio.durationS.toFixed(1)} s` };
  } catch (err) {
    if (err instanceof MediaError) return { label: err.kind, documented: Date.now() - started < TIMEOUT_MS + 5000, detail: err.message.slice(0, 200) };
    return { label: `error ${err instanceof Error ? err.name : typeof err}`, documented: false, detail: err instanceof Error ? err.message.slice(0, 300) : String(err) };
  } finally {
    rmSync(join(path, '..'), { recursive: true, force: true });
  }
}

export function mediaSurface(files: MediaFiles): Surface {
  const mutated = fc.constantFrom(...files.bases).chain((base) =>
    mangled(base.bytes).map(({ how, bytes }): FuzzCase => ({
      family: `mangled ${base.name.split('.')[1]}`,
      describe: `${base.name} ${how}`,
      run: () => decodeCase(files.dir, base.name, bytes),
    })));
  const wavFields = fc
    .record({
      rate: fc.oneof(fc.constantFrom(0, 1, 7, 8000, 16000, 44100, 192000, 384000, 4_294_967_295), fc.nat()),
      channels: fc.oneof(fc.constantFrom(0, 1, 2, 8, 255, 65535), fc.nat({ max: 65535 })),
      bits: fc.constantFrom(0, 1, 8, 16, 24, 32, 64, 65535),
      dataBytes: fc.nat({ max: 64_000 }),
      lie: fc.constantFrom('honest', 'claims 4 GB', 'claims 0'),
    })
    .map(({ rate, channels, bits, dataBytes, lie }): FuzzCase => {
      const claimed = lie === 'honest' ? dataBytes : lie === 'claims 0' ? 0 : 0xffffffff;
      return {
        family: 'WAV header fields',
        describe: `WAV rate ${rate} channels ${channels} bits ${bits}, ${dataBytes} data bytes (${lie})`,
        run: () => decodeCase(files.dir, 'h.wav', lyingWav(rate, channels, bits, dataBytes, claimed)),
      };
    });
  const special = fc.constantFrom(...files.specials).map((s): FuzzCase => ({ family: s.family, describe: s.name, run: () => decodeCase(files.dir, s.name, s.bytes) }));
  // Wrong names: the decoder must go by content, never by extension.
  const renamed = fc.tuple(fc.constantFrom(...files.bases), fc.constantFrom('x.txt', 'x.m3u8', 'x', 'x.wav', 'x.mp4', '..wav')).map(([b, name]): FuzzCase => ({
    family: 'misnamed file', describe: `${b.name} saved as ${name}`, run: () => decodeCase(files.dir, name, b.bytes),
  }));
  return {
    name: 'media decoding (in-process)',
    cases: fc.oneof({ weight: 8, arbitrary: mutated }, { weight: 2, arbitrary: wavFields }, { weight: 1, arbitrary: special }, { weight: 1, arbitrary: renamed }),
  };
}
