import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { SAMPLE_RATE } from '../../audio.js';
import { resample } from '../../media/resample.js';

/**
 * Debian's `espeak-ng` as a voice (formant synthesis: robotic, but it speaks every language,
 * Korean included, for which no neural voice is to be had here). Used for the standard
 * pronunciation behind `ref_graph` where no Piper voice exists.
 *
 * `espeak-ng --stdout -v <voice> -- <text>` (no `-q`: quiet means no audio at all) writes a 16-bit
 * mono WAV to stdout; its RIFF and data sizes are placeholders (0x7ffff...), so the data chunk
 * runs to the end of the output.
 */
const run = promisify(execFile);

/** 16-bit PCM mono WAV -> float samples and rate; the data chunk's size is not trusted. */
export function parseStreamedWav(wav: Buffer): { pcm: Float32Array; sampleRate: number } {
  if (wav.length < 12 || wav.toString('latin1', 0, 4) !== 'RIFF' || wav.toString('latin1', 8, 12) !== 'WAVE') {
    throw new Error('espeak-ng did not write a WAV');
  }
  let offset = 12;
  let sampleRate = 0;
  while (offset + 8 <= wav.length) {
    const id = wav.toString('latin1', offset, offset + 4);
    const size = wav.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (id === 'fmt ') {
      const format = wav.readUInt16LE(body);
      const channels = wav.readUInt16LE(body + 2);
      const bits = wav.readUInt16LE(body + 14);
      if (format !== 1 || channels !== 1 || bits !== 16) throw new Error(`espeak-ng wrote an unexpected WAV (format ${format}, ${channels} ch, ${bits} bit)`);
      sampleRate = wav.readUInt32LE(body + 4);
    } else if (id === 'data') {
      if (sampleRate === 0) throw new Error('espeak-ng WAV has data before fmt');
      const end = Math.min(wav.length, body + size) & ~1;
      const pcm = new Float32Array((end - body) / 2);
      for (let i = 0; i < pcm.length; i++) pcm[i] = wav.readInt16LE(body + 2 * i) / 32768;
      return { pcm, sampleRate };
    }
    offset = body + size + (size & 1);
  }
  throw new Error('espeak-ng WAV has no data');
}

export interface EspeakSpeakOptions {
  /** espeak-ng voice, e.g. `ko`, `en-us`. */
  voice: string;
  /** The espeak-ng executable (default `espeak-ng` on PATH). */
  command?: string;
  signal?: AbortSignal;
}

/** `text` spoken by espeak-ng, as 16 kHz mono float PCM. */
export async function espeakSpeak(text: string, { voice, command = 'espeak-ng', signal }: EspeakSpeakOptions): Promise<Float32Array> {
  const { stdout } = await run(command, ['--stdout', '-v', voice, '--', text], { signal, encoding: 'buffer', maxBuffer: 64 << 20 });
  const { pcm, sampleRate } = parseStreamedWav(stdout);
  return resample(pcm, sampleRate, SAMPLE_RATE);
}
