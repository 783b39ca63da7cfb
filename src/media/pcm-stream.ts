/**
 * Streams a media file as 16 kHz mono float PCM, chunk by chunk, for long-form recognition:
 * hours of audio never sit in memory. Backpressure is real: while the consumer is busy the pipe
 * fills and ffmpeg blocks, so a slow engine never lets decoded audio pile up.
 *
 * Bounded whatever the media claims: past `maxSeconds` of audio ffmpeg is stopped (a container
 * may say one minute and hold six hours), an ffmpeg that produces nothing for `stallTimeoutMs`
 * while it is read is killed, and `memoryLimitBytes` caps its address space.
 */
import { SAMPLE_RATE } from '../audio.js';
import {
  clampInPlace,
  exceededMemory,
  ffmpegInputArgs,
  MediaError,
  memoryLimitMessage,
  PCM_OUTPUT_ARGS,
  spawnTool,
  toolMissingUnderPrlimit,
  type ToolLimits,
} from './decode.js';

const BYTES_PER_SAMPLE = 4;
const STDERR_TAIL_BYTES = 4096;
/** Audio accepted past maxSeconds before the media counts as too long (codec padding, rounding). */
export const STREAM_MAX_SLACK_S = 1;

export interface PcmStreamOptions extends Pick<ToolLimits, 'stallTimeoutMs' | 'memoryLimitBytes'> {
  /** Start this far into the media (a resumed job). */
  startS?: number;
  /** ffmpeg output options before the PCM ones, e.g. a filter (see denoise.ts). */
  outputArgs?: readonly string[];
  /**
   * The media's longest accepted length, in seconds from its start (startS included): past it
   * (plus STREAM_MAX_SLACK_S) ffmpeg is stopped and the stream throws a 'too-long' MediaError.
   */
  maxSeconds?: number;
  signal?: AbortSignal;
}

/**
 * Yields PCM chunks in order. Stopping early (break, throw, abort) kills ffmpeg. A decoding
 * failure before any audio is an 'undecodable' MediaError; after some audio, a damaged tail is
 * dropped like decodeFile does.
 */
export async function* streamPcm(path: string, opts: PcmStreamOptions = {}): AsyncGenerator<Float32Array> {
  opts.signal?.throwIfAborted();
  const startS = opts.startS !== undefined && opts.startS > 0 ? opts.startS : 0;
  const seek = startS > 0 ? ['-ss', startS.toFixed(3)] : [];
  const args = ['-nostdin', '-hide_banner', '-loglevel', 'error', ...seek, ...(await ffmpegInputArgs(path)), ...(opts.outputArgs ?? []), ...PCM_OUTPUT_ARGS];
  const child = await spawnTool('ffmpeg', args, opts.memoryLimitBytes);
  let stderrTail = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => {
    stderrTail = (stderrTail + text).slice(-STDERR_TAIL_BYTES);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal }));
    child.on('error', () => resolve({ code: null, signal: null }));
  });
  let stalled = false;
  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  opts.signal?.addEventListener('abort', kill, { once: true });
  if (opts.signal?.aborted) kill();

  const maxSamples = opts.maxSeconds === undefined ? Infinity : Math.ceil((opts.maxSeconds + STREAM_MAX_SLACK_S - startS) * SAMPLE_RATE);
  // Armed only while this side waits for ffmpeg: time the consumer spends on a chunk is not ffmpeg's.
  let stallTimer: NodeJS.Timeout | undefined;
  const armStall = (): void => {
    if (opts.stallTimeoutMs === undefined) return;
    stallTimer = setTimeout(() => {
      stalled = true;
      kill();
    }, opts.stallTimeoutMs);
  };
  const disarmStall = (): void => clearTimeout(stallTimer);

  let carry = Buffer.alloc(0);
  let samples = 0;
  const stdout = (child.stdout as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  try {
    for (;;) {
      armStall();
      const next = await stdout.next();
      disarmStall();
      if (next.done === true) break;
      const data = next.value;
      const bytes = carry.length > 0 ? Buffer.concat([carry, data]) : data;
      const whole = bytes.length - (bytes.length % BYTES_PER_SAMPLE);
      carry = Buffer.from(bytes.subarray(whole));
      if (whole === 0) continue;
      // Copy: the chunk's memory belongs to the stream and Float32Array needs 4-byte alignment.
      const pcm = new Float32Array(whole / BYTES_PER_SAMPLE);
      new Uint8Array(pcm.buffer).set(bytes.subarray(0, whole));
      clampInPlace(pcm);
      samples += pcm.length;
      if (samples > maxSamples) {
        throw new MediaError('too-long', `the audio goes on past the ${opts.maxSeconds} s limit (decoding stopped there, whatever the container says)`);
      }
      yield pcm;
    }
    const { code, signal } = await exited;
    opts.signal?.throwIfAborted();
    if (stalled) throw new MediaError('undecodable', `ffmpeg produced no audio for ${(opts.stallTimeoutMs ?? 0) / 1000} s; decoding stopped`);
    if (code !== 0 && opts.memoryLimitBytes !== undefined && opts.memoryLimitBytes > 0 && exceededMemory(code, signal, stderrTail)) {
      throw new MediaError('undecodable', memoryLimitMessage(opts.memoryLimitBytes));
    }
    if (toolMissingUnderPrlimit(code, stderrTail)) throw new Error('ffmpeg is not installed or not on PATH; it is needed to decode media');
    if (samples === 0 && code !== 0) {
      // The file's path (a job's or a request's temp file) is nobody's business: "input".
      const why = stderrTail.split(`file:${path}`).join('input').split(path).join('input')
        .split('\n').filter(Boolean).slice(-2).join('; ').replace(/^\[[^\]]*\]\s*/, '');
      throw new MediaError('undecodable', `the audio could not be decoded${why ? `: ${why.slice(0, 300)}` : ''}`);
    }
  } finally {
    disarmStall();
    opts.signal?.removeEventListener('abort', kill);
    kill();
    await stdout.return?.();
    await exited;
  }
}
