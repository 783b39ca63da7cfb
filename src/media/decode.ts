/**
 * Turns any media file (audio, or the audio track of a video) into 16 kHz mono float PCM,
 * using ffprobe to classify the input and ffmpeg to decode it, both as child processes.
 *
 * Every failure that is the media's fault becomes a MediaError whose kind maps onto the
 * wire errors (empty / no audio / not decodable / too long). Failures that are the server's
 * fault (ffmpeg missing, the file path not existing) stay ordinary errors.
 */
import { execFile, spawn, type ChildProcessByStdio } from 'node:child_process';
import { rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { DECODER_NICE, lowerPriority } from '../process-priority.js';
import { SAMPLE_RATE } from '../audio.js';
import type { MediaLimits } from '../config.js';
import { makeMediaTempDir } from './temp-files.js';

export type MediaErrorKind = 'empty' | 'no-audio' | 'undecodable' | 'too-long';

export class MediaError extends Error {
  readonly kind: MediaErrorKind;
  constructor(kind: MediaErrorKind, message: string) {
    super(message);
    this.name = 'MediaError';
    this.kind = kind;
  }
}

/** 16 kHz mono, samples in [-1, 1]. */
export interface DecodedAudio {
  pcm: Float32Array;
  durationS: number;
}

/** Bounds on every ffmpeg/ffprobe process (config `media`). */
export interface ToolLimits {
  /** Kill ffmpeg/ffprobe and reject 'undecodable' after this long, probe and decode together (default 120000). */
  timeoutMs?: number;
  /** Streaming decodes (streamPcm): kill ffmpeg when it produces nothing this long while read. */
  stallTimeoutMs?: number;
  /** Address-space limit of each process (prlimit --as); undefined or 0: none. */
  memoryLimitBytes?: number;
}

/** The config's `media` section as the options of decodeFile, probeFile and streamPcm. */
export function toolLimits(media: MediaLimits | undefined): ToolLimits {
  if (media === undefined) return {};
  return {
    timeoutMs: media.decodeTimeoutSeconds * 1000,
    stallTimeoutMs: media.stallTimeoutSeconds * 1000,
    memoryLimitBytes: media.memoryLimitMb > 0 ? media.memoryLimitMb * 1024 * 1024 : undefined,
  };
}

export interface DecodeOptions extends ToolLimits {
  /** Reject with 'too-long' if the media is longer; decoding stops shortly after this point. */
  maxSeconds?: number;
  /** Aborting kills ffmpeg/ffprobe; the promise settles only once the process is gone. */
  signal?: AbortSignal;
}

const BYTES_PER_SAMPLE = 4;
const DEFAULT_TIMEOUT_MS = 120_000;
/** ffmpeg stops this far past maxSeconds: enough to tell "too long" from "just fits". */
const READ_PAST_MAX_S = 0.5;
/**
 * Lossy encoders add priming samples and pad the last frame (AAC: up to 2047 samples, which
 * is 0.26 s at 8 kHz), so a recording of exactly maxSeconds can decode slightly longer.
 * Within this slack we trim to maxSeconds instead of rejecting.
 */
const CODEC_PADDING_SLACK_S = 0.3;
/** Cap on the up-front PCM allocation taken from the container's (untrusted) duration. */
const MAX_PREALLOCATED_S = 600;
const MAX_MESSAGE_DETAIL_CHARS = 300;
/** Only the end of stderr is kept: corrupt files can make ffmpeg log one line per packet. */
const STDERR_TAIL_BYTES = 8192;
/** Demuxers that accept things that are not recordings at all (tty renders text as video). */
const NOT_MEDIA_FORMATS = new Set(['tty', 'ffmetadata']);
/**
 * Demuxers that open other files or URLs named inside the media (playlists, concat scripts,
 * session descriptions). An uploaded playlist naming /srv/x.mp3 would otherwise make the server
 * transcribe its own files for the uploader. Every other demuxer ffmpeg has is allowed, and the
 * check happens inside ffmpeg before a demuxer reads anything, so ffprobe never follows them either.
 */
const REFERENCING_FORMATS = new Set([
  'hls', 'dash', 'concat', 'imf', 'sdp', 'rtsp', 'rtp', 'webm_dash_manifest', 'avisynth', 'vapoursynth',
]);

const FFMPEG = 'ffmpeg';
const FFPROBE = 'ffprobe';
const PRLIMIT = 'prlimit';

let availability: Promise<boolean> | undefined;
let prlimitAvailability: Promise<boolean> | undefined;
let allowedDemuxers: Promise<string> | undefined;

/** True when both ffmpeg and ffprobe can be run. Checked once per process. */
export function ffmpegAvailable(): Promise<boolean> {
  availability ??= Promise.all([canRun(FFMPEG), canRun(FFPROBE)]).then(([a, b]) => a && b);
  return availability;
}

/**
 * True when `prlimit` (util-linux) can run: media.memoryLimitMb is enforced through it. Without
 * it, tools run without a memory limit (main.ts says so once at start).
 */
export function memoryLimitEnforceable(): Promise<boolean> {
  prlimitAvailability ??= new Promise((resolve) => {
    execFile(PRLIMIT, ['--as=1073741824', '--', 'true'], (err) => resolve(err === null));
  });
  return prlimitAvailability;
}

/**
 * Starts ffmpeg or ffprobe: under `prlimit --as` when a memory limit is asked and prlimit is
 * there (it sets the limit and execs the tool, so the pid is the tool's), at decoder priority.
 */
export async function spawnTool(command: string, args: readonly string[], memoryLimitBytes: number | undefined): Promise<ChildProcessByStdio<null, Readable, Readable>> {
  const limited = memoryLimitBytes !== undefined && memoryLimitBytes > 0 && (await memoryLimitEnforceable());
  const child = limited
    ? spawn(PRLIMIT, [`--as=${Math.floor(memoryLimitBytes)}`, '--', command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  lowerPriority(child.pid, DECODER_NICE);
  return child;
}

/**
 * A tool that failed for its memory limit: the loader could not map ffmpeg's libraries (a limit
 * below ~300 MB), a thread could not get its stack, an allocation failed (ENOMEM), or a library
 * aborted. Only asked when a limit was set and the tool failed.
 */
export function exceededMemory(exitCode: number | null, signal: NodeJS.Signals | null, stderr: string): boolean {
  if (/cannot allocate memory|out of memory|ENOMEM|bad_alloc|failed to allocate|failed to map segment|resource temporarily unavailable/i.test(stderr)) return true;
  return exitCode === null && signal === 'SIGABRT';
}

export function memoryLimitMessage(limitBytes: number): string {
  return `decoding the media needed more than the ${Math.round(limitBytes / (1024 * 1024))} MB memory limit`;
}

/** prlimit could not start the tool (it reports this itself, exit 126/127). */
export function toolMissingUnderPrlimit(exitCode: number | null, stderr: string): boolean {
  return (exitCode === 126 || exitCode === 127) && /prlimit: failed to execute/.test(stderr);
}

export async function decodeFile(path: string, opts: DecodeOptions = {}): Promise<DecodedAudio> {
  opts.signal?.throwIfAborted();
  if (opts.maxSeconds !== undefined && !(opts.maxSeconds > 0)) {
    throw new RangeError(`maxSeconds must be > 0, got ${opts.maxSeconds}`);
  }
  const info = await stat(path);
  // Only regular files have a meaningful size; a FIFO or device reports 0 and is left to ffmpeg.
  if (info.isFile() && info.size === 0) throw new MediaError('empty', 'the media is empty (0 bytes)');

  const input = await ffmpegInputArgs(path);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const limits: RunLimits = { deadline: Date.now() + timeoutMs, timeoutMs, signal: opts.signal, memoryLimitBytes: opts.memoryLimitBytes };
  try {
    return await decodeAudio(path, input, undefined, opts.maxSeconds, limits);
  } catch (err) {
    if (!(err instanceof MediaError) || err.kind === 'too-long') throw err;
    // Only a failure needs ffprobe (one process spawn fewer per request on the happy path): it
    // tells a video without sound, a text file or a playlist from audio that is merely broken.
    const probe = await probeMedia(path, input, limits);
    if (probe.audioStreams === 0) {
      const found = probe.otherStreams.length > 0 ? ` (found only: ${probe.otherStreams.join(', ')})` : '';
      throw new MediaError('no-audio', `the media has no audio stream${found}`);
    }
    throw err;
  }
}

export interface MediaInfo {
  /** The container's claim (may be absent on streams, wrong on truncated files). */
  durationS: number | undefined;
}

/**
 * Checks that a file holds decodable audio and reads its claimed duration, without decoding:
 * long-form jobs check limits and report progress from it before streaming hours of audio.
 */
export async function probeFile(path: string, opts: ToolLimits & { signal?: AbortSignal } = {}): Promise<MediaInfo> {
  const info = await stat(path);
  if (info.isFile() && info.size === 0) throw new MediaError('empty', 'the media is empty (0 bytes)');
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const probe = await probeMedia(path, await ffmpegInputArgs(path), {
    deadline: Date.now() + timeoutMs, timeoutMs, signal: opts.signal, memoryLimitBytes: opts.memoryLimitBytes,
  });
  if (probe.audioStreams === 0) {
    const found = probe.otherStreams.length > 0 ? ` (found only: ${probe.otherStreams.join(', ')})` : '';
    throw new MediaError('no-audio', `the media has no audio stream${found}`);
  }
  return { durationS: probe.durationS };
}

/** ffmpeg/ffprobe input options for a local file, with the same demuxer guard as decodeFile. */
export async function ffmpegInputArgs(path: string): Promise<string[]> {
  return ['-protocol_whitelist', 'file', '-format_whitelist', await demuxerWhitelist(), '-i', ffmpegInputUrl(path)];
}

/** Output options turning the first audio stream into 16 kHz mono f32le on stdout. */
export const PCM_OUTPUT_ARGS: readonly string[] = [
  '-map', '0:a:0', '-vn', '-sn', '-dn',
  '-ac', '1', '-rematrix_maxval', '1', '-ar', String(SAMPLE_RATE),
  '-c:a', 'pcm_f32le', '-f', 'f32le', 'pipe:1',
];

/** Containers like MP4/MOV need seeking, so the bytes go to a private temp file first. */
export async function decodeBuffer(data: Buffer, opts: DecodeOptions = {}): Promise<DecodedAudio> {
  opts.signal?.throwIfAborted();
  if (data.length === 0) throw new MediaError('empty', 'the media is empty (0 bytes)');
  const dir = await makeMediaTempDir();
  try {
    const file = join(dir, 'input');
    await writeFile(file, data);
    return await decodeFile(file, opts);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

interface ProbeResult {
  audioStreams: number;
  otherStreams: string[];
  /** The container's own claim; may be absent or wrong (truncated files keep the full length). */
  durationS: number | undefined;
}

/** `input` is the ffmpeg input options ending in `-i URL`; ffprobe takes the same ones. */
async function probeMedia(path: string, input: string[], limits: RunLimits): Promise<ProbeResult> {
  const out = new ByteCollector();
  const run = await runTool(FFPROBE, [
    '-v', 'error', '-hide_banner',
    '-show_entries', 'format=format_name,duration:stream=codec_type',
    '-of', 'json',
    ...input,
  ], limits, (chunk) => out.push(chunk));
  if (run.timedOut) throw timeoutError(limits);
  if (run.exitCode !== 0) {
    if (overMemory(run, limits)) throw new MediaError('undecodable', memoryLimitMessage(limits.memoryLimitBytes ?? 0));
    if (run.stderr.includes('not on whitelist')) {
      throw new MediaError('undecodable', 'playlists and other media that refer to further files are not accepted');
    }
    throw new MediaError('undecodable', `the media could not be read${detail(run.stderr, path)}`);
  }

  let parsed: unknown;
  try {
    parsed = JSON.parse(out.text());
  } catch {
    throw new MediaError('undecodable', 'the media could not be read (unparseable probe output)');
  }
  const root = isRecord(parsed) ? parsed : {};
  const format = isRecord(root.format) ? root.format : {};
  const formatNames = typeof format.format_name === 'string' ? format.format_name.split(',') : [];

  if (formatNames.some((name) => NOT_MEDIA_FORMATS.has(name))) {
    throw new MediaError('undecodable', 'the upload is text, not audio or video');
  }

  const streamTypes = (Array.isArray(root.streams) ? root.streams : [])
    .map((s) => (isRecord(s) && typeof s.codec_type === 'string' ? s.codec_type : 'unknown'));
  const audioStreams = streamTypes.filter((t) => t === 'audio').length;
  // 'no-audio' means a real video without sound; a subtitle or data file is simply not media.
  if (audioStreams === 0 && !streamTypes.includes('video')) {
    const found = streamTypes.length > 0 ? ` (found only: ${[...new Set(streamTypes)].join(', ')})` : '';
    throw new MediaError('undecodable', `the media has neither audio nor video${found}`);
  }
  const duration = typeof format.duration === 'string' ? Number(format.duration) : NaN;
  return {
    audioStreams,
    otherStreams: [...new Set(streamTypes.filter((t) => t !== 'audio'))],
    durationS: Number.isFinite(duration) && duration > 0 ? duration : undefined,
  };
}

async function decodeAudio(
  path: string,
  input: string[],
  durationHintS: number | undefined,
  maxSeconds: number | undefined,
  limits: RunLimits,
): Promise<DecodedAudio> {
  const readLimitS = maxSeconds === undefined ? undefined : maxSeconds + READ_PAST_MAX_S;

  const hintS = Math.min(durationHintS ?? 0, readLimitS ?? Infinity, MAX_PREALLOCATED_S);
  const pcm = new PcmAccumulator(hintS > 0 ? Math.ceil((hintS + 1) * SAMPLE_RATE) * BYTES_PER_SAMPLE : 0);
  const run = await runTool(FFMPEG, [
    '-nostdin', '-hide_banner', '-loglevel', 'error',
    ...input,
    // The first audio stream; video, subtitles and data are never decoded.
    '-map', '0:a:0', '-vn', '-sn', '-dn',
    // For float output ffmpeg's downmix does not normalise: stereo would become 0.707·(L+R),
    // +3 dB and clipping when L ≈ R. rematrix_maxval 1 makes it (L+R)/2, and keeps 5.1 in range.
    '-ac', '1', '-rematrix_maxval', '1', '-ar', String(SAMPLE_RATE),
    ...(readLimitS === undefined ? [] : ['-t', readLimitS.toFixed(3)]),
    '-c:a', 'pcm_f32le', '-f', 'f32le', 'pipe:1',
  ], limits, (chunk) => pcm.push(chunk));
  if (run.timedOut) throw timeoutError(limits);
  // Out of memory: what decoded before is not the whole media, whatever its length.
  if (run.exitCode !== 0 && overMemory(run, limits)) throw new MediaError('undecodable', memoryLimitMessage(limits.memoryLimitBytes ?? 0));

  let samples = pcm.toFloat32();
  // A non-zero exit after some audio came out is a damaged or truncated file: keep what decoded.
  if (samples.length === 0) {
    if (run.exitCode !== 0) {
      throw new MediaError('undecodable', `the audio could not be decoded${detail(run.stderr, path)}`);
    }
    throw new MediaError('empty', 'the media contains no audio samples');
  }

  if (maxSeconds !== undefined) {
    const maxSamples = Math.floor(maxSeconds * SAMPLE_RATE);
    if (samples.length > maxSamples + Math.round(CODEC_PADDING_SLACK_S * SAMPLE_RATE)) {
      throw new MediaError('too-long', `the audio is longer than ${maxSeconds} s`);
    }
    if (samples.length > maxSamples) samples = samples.subarray(0, maxSamples);
  }
  clampInPlace(samples);
  return { pcm: samples, durationS: samples.length / SAMPLE_RATE };
}

/**
 * Every demuxer this ffmpeg build has, except devices and REFERENCING_FORMATS, as the comma
 * list -format_whitelist takes. Listed once per process; a failed listing is retried next time.
 */
function demuxerWhitelist(): Promise<string> {
  allowedDemuxers ??= listDemuxers().then(
    (names) => names.filter((name) => !name.split(',').some((part) => REFERENCING_FORMATS.has(part))).join(','),
    (err: unknown) => {
      allowedDemuxers = undefined;
      throw err;
    },
  );
  return allowedDemuxers;
}

/** Parses `ffmpeg -demuxers`: a legend, a "--" line, then lines like " D  aac   raw ADTS AAC". */
function listDemuxers(): Promise<string[]> {
  return new Promise((resolve, reject) => {
    execFile(FFMPEG, ['-hide_banner', '-demuxers'], { maxBuffer: 4 << 20 }, (err, stdout) => {
      if (err) {
        const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
        reject(missing ? new Error(`${FFMPEG} is not installed or not on PATH; it is needed to decode media`) : err);
        return;
      }
      const lines = stdout.split('\n');
      const names: string[] = [];
      for (const line of lines.slice(lines.findIndex((l) => l.trim() === '--') + 1)) {
        const [flags, second, third] = line.trim().split(/\s+/);
        if (flags === undefined || !/^[DE.]*D[DE.]*$/.test(flags)) continue;
        // Newer ffmpeg marks devices with a separate "d" flag; devices are never wanted.
        if (second === 'd' && third !== undefined) continue;
        if (second) names.push(second);
      }
      // A listing this short means the output format changed; refuse rather than allow everything.
      if (names.length < 20) reject(new Error(`could not read the demuxer list from "${FFMPEG} -demuxers"`));
      else resolve(names);
    });
  });
}

/**
 * The file: prefix keeps ffmpeg from reading "a:b.wav" as protocol "a", or "-x.wav" as an option.
 */
function ffmpegInputUrl(path: string): string {
  return `file:${path}`;
}

/** Float decoders (MP3, AAC) overshoot ±1 slightly on loud material; NaN only from broken input. */
export function clampInPlace(samples: Float32Array): void {
  for (let i = 0; i < samples.length; i++) {
    const x = samples[i];
    if (x > 1) samples[i] = 1;
    else if (x < -1) samples[i] = -1;
    else if (x !== x) samples[i] = 0;
  }
}

/**
 * Gathers ffmpeg's raw f32le output in one growing buffer: chunks arrive at arbitrary byte
 * boundaries, capacity doubles when full (linear total copying), and an accurate size hint
 * means the PCM is written once, with no final concatenation.
 */
class PcmAccumulator {
  private bytes: Uint8Array;
  private used = 0;

  constructor(initialBytes: number) {
    this.bytes = new Uint8Array(Math.max(initialBytes, 1 << 20));
  }

  push(chunk: Buffer): void {
    const needed = this.used + chunk.length;
    if (needed > this.bytes.length) {
      const grown = new Uint8Array(Math.max(needed, this.bytes.length * 2));
      grown.set(this.bytes.subarray(0, this.used));
      this.bytes = grown;
    }
    this.bytes.set(chunk, this.used);
    this.used = needed;
  }

  toFloat32(): Float32Array {
    // A killed process can stop mid-sample; the partial sample is dropped.
    const count = Math.floor(this.used / BYTES_PER_SAMPLE);
    const view = new Float32Array(this.bytes.buffer, 0, count);
    // Returning a view over a mostly-empty buffer would pin memory; copy only then.
    return count * BYTES_PER_SAMPLE < this.bytes.length * 0.75 ? view.slice() : view;
  }
}

class ByteCollector {
  private chunks: Buffer[] = [];
  push(chunk: Buffer): void {
    this.chunks.push(chunk);
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

interface ToolRun {
  exitCode: number | null;
  /** The signal that ended the tool, if one did. */
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** The last few KB of stderr. */
  stderr: string;
}

/** One deadline covers probing and decoding together. */
interface RunLimits {
  deadline: number;
  timeoutMs: number;
  signal?: AbortSignal;
  memoryLimitBytes?: number;
}

function overMemory(run: ToolRun, limits: RunLimits): boolean {
  return limits.memoryLimitBytes !== undefined && limits.memoryLimitBytes > 0 && exceededMemory(run.exitCode, run.signal, run.stderr);
}

/**
 * Runs a tool to completion. Resolves (or rejects on abort) only after the process has
 * exited and its pipes closed, so no decoder outlives the call that started it.
 */
async function runTool(
  command: string,
  args: string[],
  limits: RunLimits,
  onStdout: (chunk: Buffer) => void,
): Promise<ToolRun> {
  const { signal } = limits;
  signal?.throwIfAborted();
  const child = await spawnTool(command, args, limits.memoryLimitBytes);
  return new Promise<ToolRun>((resolve, reject) => {
    let stderrTail = Buffer.alloc(0);
    let timedOut = false;
    let aborted = false;
    let failure: Error | undefined;
    let settled = false;

    const kill = (): void => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    };
    const onAbort = (): void => {
      aborted = true;
      kill();
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, Math.max(0, limits.deadline - Date.now()));
    signal?.addEventListener('abort', onAbort, { once: true });

    const finish = (exitCode: number | null, exitSignal: NodeJS.Signals | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      const stderr = stderrTail.toString('utf8');
      if (aborted && signal) reject(signal.reason);
      else if (failure) reject(failure);
      else if (toolMissingUnderPrlimit(exitCode, stderr)) reject(new Error(`${command} is not installed or not on PATH; it is needed to decode media`));
      else resolve({ exitCode, signal: exitSignal, timedOut, stderr });
    };
    if (signal?.aborted) onAbort();

    child.stdout.on('data', (chunk: Buffer) => {
      if (failure) return;
      try {
        onStdout(chunk);
      } catch (err) {
        // e.g. the PCM no longer fits in memory: stop the tool rather than crash the server.
        failure = err instanceof Error ? err : new Error(String(err));
        kill();
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      const joined = Buffer.concat([stderrTail, chunk]);
      stderrTail = joined.length > STDERR_TAIL_BYTES ? joined.subarray(joined.length - STDERR_TAIL_BYTES) : joined;
    });
    child.on('error', (err: NodeJS.ErrnoException) => {
      failure = err.code === 'ENOENT'
        ? new Error(`${command} is not installed or not on PATH; it is needed to decode media`)
        : err;
      // A process that never started emits no 'close' of its own.
      if (child.pid === undefined) finish(null, null);
    });
    child.on('close', (code, exitSignal) => finish(code, exitSignal));
  });
}

function timeoutError(limits: RunLimits): MediaError {
  return new MediaError('undecodable', `decoding the media took longer than the ${limits.timeoutMs / 1000} s limit`);
}

/** A short, human-readable excerpt of ffmpeg's complaint, without our temp paths. */
function detail(stderr: string, path: string): string {
  const lines = stderr
    .split(/\r?\n/)
    .map((line) => line.split(ffmpegInputUrl(path)).join('input').split(path).join('input'))
    // "[flac @ 0x55d...]" prefixes carry a pointer nobody can use.
    .map((line) => line.replace(/^\[([^\]@]+?) @ 0x[0-9a-f]+\]\s*/i, '$1: ').trim())
    .map((line) => line.replace(/not on whitelist '[^']*'/, 'not allowed'))
    .filter((line) => line.length > 0);
  const unique = [...new Set(lines)].join('; ');
  if (unique.length === 0) return '';
  const clipped = unique.length > MAX_MESSAGE_DETAIL_CHARS
    ? `${unique.slice(0, MAX_MESSAGE_DETAIL_CHARS - 1)}…`
    : unique;
  return `: ${clipped}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function canRun(command: string): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(command, ['-version'], { stdio: 'ignore' });
    child.on('error', () => resolve(false));
    child.on('close', (code) => resolve(code === 0));
  });
}
