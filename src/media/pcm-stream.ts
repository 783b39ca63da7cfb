/**
 * Streams a media file as 16 kHz mono float PCM, chunk by chunk, for long-form recognition:
 * hours of audio never sit in memory. Backpressure is real: while the consumer is busy the pipe
 * fills and ffmpeg blocks, so a slow engine never lets decoded audio pile up.
 */
import { spawn } from 'node:child_process';
import { DECODER_NICE, lowerPriority } from '../process-priority.js';
import { clampInPlace, ffmpegInputArgs, MediaError, PCM_OUTPUT_ARGS } from './decode.js';

const BYTES_PER_SAMPLE = 4;
const STDERR_TAIL_BYTES = 4096;

export interface PcmStreamOptions {
  /** Start this far into the media (a resumed job). */
  startS?: number;
  /** ffmpeg output options before the PCM ones, e.g. a filter (see denoise.ts). */
  outputArgs?: readonly string[];
  signal?: AbortSignal;
}

/**
 * Yields PCM chunks in order. Stopping early (break, throw, abort) kills ffmpeg. A decoding
 * failure before any audio is an 'undecodable' MediaError; after some audio, a damaged tail is
 * dropped like decodeFile does.
 */
export async function* streamPcm(path: string, opts: PcmStreamOptions = {}): AsyncGenerator<Float32Array> {
  opts.signal?.throwIfAborted();
  const seek = opts.startS !== undefined && opts.startS > 0 ? ['-ss', opts.startS.toFixed(3)] : [];
  const child = spawn('ffmpeg', ['-nostdin', '-hide_banner', '-loglevel', 'error', ...seek, ...(await ffmpegInputArgs(path)), ...(opts.outputArgs ?? []), ...PCM_OUTPUT_ARGS], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  lowerPriority(child.pid, DECODER_NICE);
  let stderrTail = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => {
    stderrTail = (stderrTail + text).slice(-STDERR_TAIL_BYTES);
  });
  const exited = new Promise<number | null>((resolve) => {
    child.on('close', (code) => resolve(code));
    child.on('error', () => resolve(null));
  });
  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  opts.signal?.addEventListener('abort', kill, { once: true });

  let carry = Buffer.alloc(0);
  let samples = 0;
  try {
    for await (const data of child.stdout as AsyncIterable<Buffer>) {
      const bytes = carry.length > 0 ? Buffer.concat([carry, data]) : data;
      const whole = bytes.length - (bytes.length % BYTES_PER_SAMPLE);
      carry = Buffer.from(bytes.subarray(whole));
      if (whole === 0) continue;
      // Copy: the chunk's memory belongs to the stream and Float32Array needs 4-byte alignment.
      const pcm = new Float32Array(whole / BYTES_PER_SAMPLE);
      new Uint8Array(pcm.buffer).set(bytes.subarray(0, whole));
      clampInPlace(pcm);
      samples += pcm.length;
      yield pcm;
    }
    const code = await exited;
    opts.signal?.throwIfAborted();
    if (samples === 0 && code !== 0) {
      // The file's path (a job's or a request's temp file) is nobody's business: "input".
      const why = stderrTail.split(`file:${path}`).join('input').split(path).join('input')
        .split('\n').filter(Boolean).slice(-2).join('; ').replace(/^\[[^\]]*\]\s*/, '');
      throw new MediaError('undecodable', `the audio could not be decoded${why ? `: ${why.slice(0, 300)}` : ''}`);
    }
  } finally {
    opts.signal?.removeEventListener('abort', kill);
    kill();
    await exited;
  }
}

