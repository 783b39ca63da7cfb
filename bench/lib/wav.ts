/**
 * RIFF/WAVE bytes for benches and tests: one 44-byte header builder. Fields are written as
 * given, reduced to their width, so the media fuzzer can build headers that lie.
 */

export interface WavFormat {
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
  /** 1: integer PCM (default), 3: IEEE float. */
  format?: 1 | 3;
}

/** The header of a file whose header says it holds `claimedDataBytes` of samples. */
export function wavHeader(f: WavFormat, claimedDataBytes: number): Buffer {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'latin1');
  h.writeUInt32LE((36 + claimedDataBytes) >>> 0, 4);
  h.write('WAVEfmt ', 8, 'latin1');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(f.format ?? 1, 20);
  h.writeUInt16LE(f.channels & 0xffff, 22);
  h.writeUInt32LE(f.sampleRate >>> 0, 24);
  h.writeUInt32LE(((f.sampleRate * f.channels * f.bitsPerSample) / 8) >>> 0, 28);
  h.writeUInt16LE(((f.channels * f.bitsPerSample) / 8) & 0xffff, 32);
  h.writeUInt16LE(f.bitsPerSample & 0xffff, 34);
  h.write('data', 36, 'latin1');
  h.writeUInt32LE(claimedDataBytes >>> 0, 40);
  return h;
}

/** A whole file: the header, then `data` as it is. */
export function wavFile(f: WavFormat, data: Uint8Array): Buffer {
  return Buffer.concat([wavHeader(f, data.length), data]);
}

export const PCM16_MONO_16K: WavFormat = { sampleRate: 16000, channels: 1, bitsPerSample: 16 };

/** Float samples in [-1, 1] as 16-bit little-endian integers (clipped). */
export function pcm16Bytes(pcm: Float32Array): Buffer {
  const data = Buffer.alloc(pcm.length * 2);
  for (let i = 0; i < pcm.length; i++) data.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(pcm[i] * 32767))), i * 2);
  return data;
}
