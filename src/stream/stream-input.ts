/**
 * What a streaming client sends: 16 kHz mono 16-bit little-endian PCM in chunks of any size (the
 * first may carry a WAV header) and, with each, an optional `extra_contents` JSON (`seqId`,
 * `epFlag`). PcmInput turns the chunks into the VAD's 512-sample windows.
 */
import { VAD_WINDOW } from '../speech/vad/silero.js';

/** Chunks of 16-bit PCM in, VAD windows out. */
export class PcmInput {
  /** Samples not yet handed out as a window. */
  private pending = new Float32Array(0);
  /** The odd byte at the end of the last chunk: the first half of a sample. */
  private carry: Buffer | undefined;
  private firstChunk = true;

  /** Samples waiting for a window to be complete. */
  get buffered(): number {
    return this.pending.length;
  }

  /** A chunk of 16-bit little-endian PCM (a leading WAV header skipped, an odd byte carried over). */
  push(chunk: Uint8Array): void {
    let bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.firstChunk && bytes.length > 0) {
      this.firstChunk = false;
      bytes = skipWavHeader(bytes);
    }
    if (this.carry !== undefined) {
      bytes = Buffer.concat([this.carry, bytes]);
      this.carry = undefined;
    }
    if (bytes.length % 2 === 1) {
      this.carry = Buffer.from(bytes.subarray(bytes.length - 1));
      bytes = bytes.subarray(0, bytes.length - 1);
    }
    const samples = new Float32Array(bytes.length / 2);
    for (let i = 0; i < samples.length; i++) samples[i] = bytes.readInt16LE(i * 2) / 32768;
    const joined = new Float32Array(this.pending.length + samples.length);
    joined.set(this.pending);
    joined.set(samples, this.pending.length);
    this.pending = joined;
  }

  /**
   * Every complete window buffered (with `flush`, the rest too, as a shorter last window). The
   * windows are taken off the buffer once the loop over them has run to its end: a loop ended by
   * an error leaves them buffered.
   */
  *windows(flush: boolean): Generator<Float32Array, void, undefined> {
    let at = 0;
    while (this.pending.length - at >= VAD_WINDOW || (flush && at < this.pending.length)) {
      const win = this.pending.subarray(at, at + VAD_WINDOW);
      at += win.length;
      yield win;
    }
    this.pending = this.pending.slice(at);
  }
}

/** A DATA message's `extra_contents`: its `seqId`, and whether the client marks an end-point. */
export function parseExtraContents(extra: string | undefined): { seqId?: number; epFlag: boolean } {
  if (extra === undefined || extra.trim() === '') return { epFlag: false };
  try {
    const v = JSON.parse(extra) as { seqId?: unknown; epFlag?: unknown };
    const seqId = typeof v.seqId === 'number' && Number.isFinite(v.seqId) ? v.seqId : undefined;
    return { seqId, epFlag: v.epFlag === true || v.epFlag === 'true' };
  } catch {
    return { epFlag: false };
  }
}

/** A first chunk starting with a RIFF/WAVE header: skip to the samples of its `data` chunk. */
export function skipWavHeader(bytes: Buffer): Buffer {
  if (bytes.length < 12 || bytes.toString('ascii', 0, 4) !== 'RIFF' || bytes.toString('ascii', 8, 12) !== 'WAVE') return bytes;
  let at = 12;
  while (at + 8 <= bytes.length) {
    const id = bytes.toString('ascii', at, at + 4);
    const size = bytes.readUInt32LE(at + 4);
    if (id === 'data') return bytes.subarray(at + 8);
    at += 8 + size + (size % 2);
  }
  return bytes.subarray(Math.min(44, bytes.length));
}
