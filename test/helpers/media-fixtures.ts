/**
 * Real media files for tests, made with ffmpeg from the shared recordings, plus the paths of
 * the shared test data and models. The recordings are never copied into the repository: tests
 * write derived files to a temp dir they own.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

const REPO_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');

/** `SORI_TESTDATA_DIR`, else `<repo>/../shared/testdata`. */
export function testdataDir(): string {
  return resolve(process.env.SORI_TESTDATA_DIR ?? join(REPO_ROOT, '..', 'shared', 'testdata'));
}

/** `SORI_MODELS_DIR` (made absolute: spawned servers run in other directories), else `<repo>/../shared/models`. */
export function modelsDir(): string {
  return resolve(process.env.SORI_MODELS_DIR ?? join(REPO_ROOT, '..', 'shared', 'models'));
}

interface FormatRecipe {
  extension: string;
  /** ffmpeg output options for the audio stream. */
  audio: string[];
  /** ffmpeg output options for a synthetic video stream; absent for audio-only formats. */
  video?: string[];
  /** What the decoded audio is expected to be like, for tests that check fidelity. */
  fidelity: 'lossless' | 'lossy' | 'band-limited';
}

/**
 * Every format Sori promises to accept. Bitrates are set explicitly so the decoded signal
 * stays close enough to the source for waveform comparisons.
 */
const RECIPES = {
  wav: { extension: 'wav', audio: ['-c:a', 'pcm_s16le'], fidelity: 'lossless' },
  // Resampling down to telephone rate drops everything above 4 kHz.
  'wav-8k': { extension: 'wav', audio: ['-c:a', 'pcm_s16le', '-ar', '8000'], fidelity: 'band-limited' },
  // Both channels carry the clip, as when a mono recording is saved as stereo.
  'wav-44k-stereo': {
    extension: 'wav',
    audio: ['-af', 'pan=stereo|c0=c0|c1=c0', '-c:a', 'pcm_s16le', '-ar', '44100'],
    fidelity: 'lossless',
  },
  mp3: { extension: 'mp3', audio: ['-c:a', 'libmp3lame', '-b:a', '64k'], fidelity: 'lossy' },
  flac: { extension: 'flac', audio: ['-c:a', 'flac'], fidelity: 'lossless' },
  ogg: { extension: 'ogg', audio: ['-c:a', 'libvorbis', '-q:a', '5'], fidelity: 'lossy' },
  opus: { extension: 'opus', audio: ['-c:a', 'libopus', '-b:a', '64k'], fidelity: 'lossy' },
  aac: { extension: 'aac', audio: ['-c:a', 'aac', '-b:a', '96k', '-f', 'adts'], fidelity: 'lossy' },
  // AC-3 only exists at 32/44.1/48 kHz.
  ac3: { extension: 'ac3', audio: ['-c:a', 'ac3', '-ar', '48000', '-b:a', '192k'], fidelity: 'lossy' },
  m4a: { extension: 'm4a', audio: ['-c:a', 'aac', '-b:a', '96k'], fidelity: 'lossy' },
  avi: { extension: 'avi', audio: ['-c:a', 'libmp3lame', '-b:a', '64k'], video: ['-c:v', 'mpeg4'], fidelity: 'lossy' },
  mp4: { extension: 'mp4', audio: ['-c:a', 'aac', '-b:a', '96k'], video: ['-c:v', 'mpeg4'], fidelity: 'lossy' },
  mov: { extension: 'mov', audio: ['-c:a', 'aac', '-b:a', '96k'], video: ['-c:v', 'mpeg4'], fidelity: 'lossy' },
  wmv: { extension: 'wmv', audio: ['-c:a', 'wmav2', '-b:a', '64k'], video: ['-c:v', 'wmv2'], fidelity: 'lossy' },
  // FLV carries MP3 only at 11/22/44 kHz; AAC takes any rate.
  flv: { extension: 'flv', audio: ['-c:a', 'aac', '-b:a', '96k'], video: ['-c:v', 'flv'], fidelity: 'lossy' },
  mkv: { extension: 'mkv', audio: ['-c:a', 'libopus', '-b:a', '64k'], video: ['-c:v', 'mpeg4'], fidelity: 'lossy' },
} satisfies Record<string, FormatRecipe>;

export type MediaFormat = keyof typeof RECIPES;
export const MEDIA_FORMATS = Object.keys(RECIPES) as MediaFormat[];

export function isMediaFormat(format: string): format is MediaFormat {
  return Object.hasOwn(RECIPES, format);
}

export function formatFidelity(format: MediaFormat): FormatRecipe['fidelity'] {
  return RECIPES[format].fidelity;
}

/** True when the format has a (synthetic, black) video track next to the audio. */
export function formatHasVideo(format: MediaFormat): boolean {
  const recipe: FormatRecipe = RECIPES[format];
  return recipe.video !== undefined;
}

/**
 * Encodes `srcFlac` as `format` (one of MEDIA_FORMATS) into `dir` and returns the new path.
 * Video formats get a tiny black video track as long as the audio, so the audio is not the
 * first or only stream.
 */
export async function makeMediaFile(srcFlac: string, format: string, dir: string): Promise<string> {
  if (!isMediaFormat(format)) throw new Error(`unknown media format "${format}"; known: ${MEDIA_FORMATS.join(', ')}`);
  const recipe: FormatRecipe = RECIPES[format];
  const out = join(dir, `${basename(srcFlac, extname(srcFlac))}-${format}.${recipe.extension}`);
  const inputs: string[] = [];
  const maps: string[] = [];
  if (recipe.video) {
    const seconds = await mediaDurationS(srcFlac);
    inputs.push('-f', 'lavfi', '-t', seconds.toFixed(3), '-i', 'color=c=black:s=64x64:r=5');
    maps.push('-map', '0:v:0', '-map', '1:a:0', ...recipe.video);
  }
  inputs.push('-i', srcFlac);
  if (!recipe.video) maps.push('-map', '0:a:0');
  await ffmpeg([...inputs, ...maps, ...recipe.audio, out]);
  return out;
}

/** A FLAC of exactly `seconds`, made by looping `srcFlac`: for length-limit tests. */
export async function makeLongAudio(srcFlac: string, seconds: number, dir: string): Promise<string> {
  const out = join(dir, `${basename(srcFlac, extname(srcFlac))}-loop-${seconds}s.flac`);
  await ffmpeg(['-stream_loop', '-1', '-i', srcFlac, '-t', String(seconds), '-c:a', 'flac', out]);
  return out;
}

/** Duration of a media file according to ffprobe, in seconds. */
export async function mediaDurationS(path: string): Promise<number> {
  const { stdout } = await run('ffprobe', [
    '-v', 'error', '-show_entries', 'format=duration', '-of', 'default=noprint_wrappers=1:nokey=1', path,
  ]);
  const seconds = Number(stdout.trim());
  if (!Number.isFinite(seconds)) throw new Error(`ffprobe reported no duration for ${path}`);
  return seconds;
}

/** Runs ffmpeg, overwriting the output; a failure carries ffmpeg's own message. */
export async function ffmpeg(args: string[]): Promise<void> {
  try {
    await run('ffmpeg', ['-nostdin', '-hide_banner', '-loglevel', 'error', '-y', ...args]);
  } catch (err) {
    const stderr = (err as { stderr?: unknown }).stderr;
    throw new Error(`ffmpeg ${args.join(' ')} failed: ${typeof stderr === 'string' ? stderr.trim() : String(err)}`);
  }
}

/**
 * Hours of silence in a few kilobytes: FLAC at 8 kHz in 65535-sample frames (3 h = 26 KB), a
 * tiny upload that decodes to `seconds` of audio.
 */
export async function makeSilentFlac(seconds: number, dir: string): Promise<string> {
  const out = join(dir, `silence-${seconds}s.flac`);
  await ffmpeg(['-f', 'lavfi', '-i', 'anullsrc=r=8000:cl=mono', '-t', String(seconds), '-c:a', 'flac', '-frame_size', '65535', out]);
  return out;
}

/**
 * A FLAC whose header lies about its length: `seconds` of silence whose STREAMINFO claims
 * `claimedSeconds`, so ffprobe reports the claim while ffmpeg decodes every frame.
 */
export async function makeLyingFlac(seconds: number, claimedSeconds: number, dir: string): Promise<string> {
  const honest = await makeSilentFlac(seconds, dir);
  const bytes = await readFile(honest);
  if (bytes.subarray(0, 4).toString('latin1') !== 'fLaC') throw new Error('not a FLAC file');
  // STREAMINFO follows "fLaC" and its 4-byte block header; bytes 10-17 of it hold the sample
  // rate (20 bits), channels (3), bits per sample (5) and the total samples (36).
  const at = 8 + 10;
  const packed = bytes.readBigUInt64BE(at);
  const mask = (1n << 36n) - 1n;
  bytes.writeBigUInt64BE((packed & ~mask) | BigInt(Math.round(claimedSeconds * 8000)), at);
  const out = join(dir, `silence-${seconds}s-claims-${claimedSeconds}s.flac`);
  await writeFile(out, bytes);
  return out;
}

/**
 * A decompression bomb for ffmpeg: `srcFlac`'s audio beside one 12000x12000 PNG frame (600 KB
 * in all). Reading the stream parameters decodes the frame: about 470 MB of memory for an
 * audio track ffmpeg never needed the video for.
 */
export async function makePngBomb(srcFlac: string, dir: string): Promise<string> {
  const png = join(dir, 'bomb-frame.png');
  await ffmpeg(['-f', 'lavfi', '-i', 'color=c=black:s=12000x12000:d=1:r=1', '-frames:v', '1', '-pix_fmt', 'rgb24', '-c:v', 'png', png]);
  const out = join(dir, 'png-bomb.mkv');
  await ffmpeg(['-framerate', '1', '-i', png, '-i', srcFlac, '-map', '0:v', '-map', '1:a', '-c:v', 'copy', '-c:a', 'copy', out]);
  return out;
}
