/**
 * Noisy versions of the test clips for bench/noise.ts, generated into a temp folder at run time
 * (nothing is stored in the repository, and the shared clips are only read).
 *
 * Noise: sox's `synth whitenoise|pinknoise|brownnoise` in repeatable mode (-R: fixed seed), one
 * long track per colour; clip i takes its own stretch of it (a deterministic offset), so clips
 * do not all get the same noise and every run makes the same mixes.
 *
 * SNR: 10·log10(P_speech / P_noise) with both powers measured on the samples actually added:
 * P_speech = mean square of the whole clean clip (pauses included, so the speech-active SNR is
 * somewhat higher than the figure), P_noise = mean square of the scaled noise stretch. A mix
 * that would clip is scaled down as a whole, which leaves the SNR unchanged.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { wavFile } from './wav.js';

const run = promisify(execFile);

export const MIX_SAMPLE_RATE = 16000;

export const NOISE_KINDS = ['white', 'pink', 'brown'] as const;
export type NoiseKind = (typeof NOISE_KINDS)[number];

export function isNoiseKind(s: string): s is NoiseKind {
  return (NOISE_KINDS as readonly string[]).includes(s);
}

/** Seconds of noise generated per colour; clips take stretches of it at different offsets. */
const NOISE_TRACK_S = 120;

/** One colour of noise, 16 kHz mono float, from sox with a fixed seed. */
export async function synthNoise(kind: NoiseKind, seconds = NOISE_TRACK_S): Promise<Float32Array> {
  const { stdout } = await run(
    'sox',
    ['-R', '-n', '-r', String(MIX_SAMPLE_RATE), '-c', '1', '-b', '32', '-e', 'floating-point', '-t', 'raw', '-',
      'synth', seconds.toFixed(3), `${kind}noise`],
    { encoding: 'buffer', maxBuffer: (seconds + 1) * MIX_SAMPLE_RATE * 4 + (1 << 20) },
  );
  const out = new Float32Array(Math.floor(stdout.length / 4));
  new Uint8Array(out.buffer).set(stdout.subarray(0, out.length * 4));
  // Brown noise wanders: take its DC out so the power measured is the noise's, not an offset's.
  const mean = out.reduce((s, x) => s + x, 0) / out.length;
  for (let i = 0; i < out.length; i++) out[i] -= mean;
  return out;
}

export function meanSquare(x: Float32Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return x.length > 0 ? s / x.length : 0;
}

export function snrDb(signal: Float32Array, noise: Float32Array): number {
  return 10 * Math.log10(meanSquare(signal) / meanSquare(noise));
}

/** `n` samples of `track` starting at `offset`, wrapping around. */
export function noiseStretch(track: Float32Array, offset: number, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = track[(offset + i) % track.length];
  return out;
}

export interface Mix {
  pcm: Float32Array;
  /** The SNR measured on the mix's own components (clean vs scaled noise), dB. */
  snrDb: number;
  /** Gain applied to the whole mix to keep it within ±1 (1 when none was needed). */
  gain: number;
}

/** clean + noise scaled to `targetSnrDb`, measured as described at the top of this file. */
export function mixAtSnr(clean: Float32Array, noise: Float32Array, targetSnrDb: number): Mix {
  if (noise.length !== clean.length) throw new Error('mixAtSnr: clean and noise lengths differ');
  const ps = meanSquare(clean);
  const pn = meanSquare(noise);
  if (!(ps > 0) || !(pn > 0)) throw new Error('mixAtSnr: silent clean clip or noise');
  const k = Math.sqrt(ps / (pn * 10 ** (targetSnrDb / 10)));
  const pcm = new Float32Array(clean.length);
  let peak = 0;
  for (let i = 0; i < pcm.length; i++) {
    pcm[i] = clean[i] + k * noise[i];
    peak = Math.max(peak, Math.abs(pcm[i]));
  }
  const gain = peak > 0.99 ? 0.99 / peak : 1;
  if (gain !== 1) for (let i = 0; i < pcm.length; i++) pcm[i] *= gain;
  const scaledNoise = new Float32Array(noise.length);
  for (let i = 0; i < noise.length; i++) scaledNoise[i] = k * noise[i];
  return { pcm, snrDb: snrDb(clean, scaledNoise), gain };
}

/** A 32-bit float WAV (WAVE_FORMAT_IEEE_FLOAT), so the mix reaches ffmpeg unquantised. */
export async function writeFloatWav(path: string, pcm: Float32Array, sampleRate = MIX_SAMPLE_RATE): Promise<void> {
  const data = new Uint8Array(pcm.buffer, pcm.byteOffset, pcm.byteLength);
  await writeFile(path, wavFile({ sampleRate, channels: 1, bitsPerSample: 32, format: 3 }, data));
}

export interface MixedClip {
  /** The clip's manifest path (relative), the key results are stored under. */
  file: string;
  kind: NoiseKind;
  /** The mix as a float WAV in the temp folder. */
  path: string;
  snrDb: number;
}

/**
 * Writes one mix per (clip, noise kind) into `dir`. `clean` gives each clip's clean 16 kHz PCM
 * (decoded the way the server decodes it). Clip i of the list starts its noise stretch at a
 * fixed offset derived from i, so adding clips at the end does not change earlier mixes.
 */
export async function makeMixes(
  clips: readonly { file: string; index: number; clean: Float32Array }[],
  kinds: readonly NoiseKind[],
  targetSnrDb: number,
  dir: string,
): Promise<MixedClip[]> {
  const out: MixedClip[] = [];
  for (const kind of kinds) {
    const track = await synthNoise(kind);
    for (const c of clips) {
      // 7.3 s apart (not a divisor of the track length), so neighbours never share noise.
      const offset = Math.round(c.index * 7.3 * MIX_SAMPLE_RATE) % track.length;
      const mix = mixAtSnr(c.clean, noiseStretch(track, offset, c.clean.length), targetSnrDb);
      const path = join(dir, `${kind}-${c.index}.wav`);
      await writeFloatWav(path, mix.pcm);
      out.push({ file: c.file, kind, path, snrDb: mix.snrDb });
    }
  }
  return out;
}
