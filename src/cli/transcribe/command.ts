/**
 * `sori transcribe FILE...`: every file through a backend (this process or a server), a few at
 * once, progress on stderr, results to stdout in the order given or into --out, and Ctrl-C
 * handled: the first stops the work cleanly, the second exits at once.
 */
import { stat, mkdir, writeFile, rename } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { loadLocalSettings } from '../../config.js';
import type { CompletedResult } from '../../clova/longform-result.js';
import type { Io } from '../command-io.js';
import { outputNames, parseTranscribeArgs, TRANSCRIBE_HELP, type OutputFormat, type TranscribeArgs } from './args.js';
import { FileFailure, StillOnServer, type Backend } from './backend.js';
import { createTranscribeReporter, type TranscribeReporter } from './progress.js';
import { renderResult } from './render.js';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_INTERRUPTED = 130;

/** After the first Ctrl-C, how long cleaning up may take before the process exits anyway. */
const CLEANUP_GRACE_MS = 10_000;

type Outcome = { kind: 'done'; text: string } | { kind: 'failed' } | { kind: 'interrupted' };

export async function transcribeCommand(argv: string[], io: Io): Promise<number> {
  const args = parseTranscribeArgs(argv, io.env, io.cwd);
  if (args.help) {
    io.stdout.write(TRANSCRIBE_HELP);
    return EXIT_OK;
  }
  const interrupt = new AbortController();
  const onSigint = (): void => {
    if (interrupt.signal.aborted) {
      io.stderr.write('sori: interrupted again; exiting now\n');
      process.exit(EXIT_INTERRUPTED);
    }
    io.stderr.write('sori: interrupted; stopping (Ctrl-C again to exit at once)\n');
    interrupt.abort(new Error('interrupted'));
    // Cleaning up should take a moment; if something hangs, the user still gets the shell back.
    setTimeout(() => process.exit(EXIT_INTERRUPTED), CLEANUP_GRACE_MS).unref();
  };
  process.on('SIGINT', onSigint);
  try {
    return await transcribeAll(args, io, interrupt.signal);
  } finally {
    process.off('SIGINT', onSigint);
  }
}

async function transcribeAll(args: TranscribeArgs, io: Io, interrupted: AbortSignal): Promise<number> {
  // Missing and unreadable files are reported before any bar is drawn; the others go on.
  const problems = await Promise.all(args.files.map((file) => unreadable(resolve(io.cwd, file))));
  args.files.forEach((file, i) => {
    if (problems[i] !== undefined) io.stderr.write(`${file}: failed: ${problems[i]}\n`);
  });
  const todo = args.files.map((file, i) => ({ file, i })).filter(({ i }) => problems[i] === undefined);
  const output = new OrderedOutput(args, io);
  for (const [i, problem] of problems.entries()) if (problem !== undefined) await output.settle(i, { kind: 'failed' });
  if (todo.length === 0) return EXIT_FAILED;

  const reporter = createTranscribeReporter(io.stderr, todo.map((t) => t.file));
  let backend: Backend | undefined;
  try {
    backend = await openBackend(args, io, reporter, interrupted);
    if (interrupted.aborted) return EXIT_INTERRUPTED;
    if (args.outDir !== undefined) await mkdir(args.outDir, { recursive: true });
    const open = backend;
    const outcomes = await runAll(todo, backend.concurrency, async ({ file, i }) => {
      const outcome = await transcribeOne(open, file, resolve(io.cwd, file), args.format, reporter, interrupted);
      await output.settle(i, outcome);
      return outcome;
    });
    if (interrupted.aborted || outcomes.some((o) => o.kind === 'interrupted')) return EXIT_INTERRUPTED;
    return outcomes.length === args.files.length && outcomes.every((o) => o.kind === 'done') ? EXIT_OK : EXIT_FAILED;
  } finally {
    reporter.stop();
    await backend?.close();
  }
}

async function openBackend(args: TranscribeArgs, io: Io, reporter: TranscribeReporter, interrupted: AbortSignal): Promise<Backend> {
  // Imported here: a usage error or --help should not wait for the engine's modules to load.
  if (args.server !== undefined) {
    const { remoteBackend } = await import('./remote.js');
    return remoteBackend(args.server, args.params);
  }
  const { openLocalBackend } = await import('./local.js');
  const env = args.modelsDir === undefined ? io.env : { ...io.env, SORI_MODELS_DIR: args.modelsDir };
  const settings = await loadLocalSettings(env, { cwd: io.cwd });
  return openLocalBackend({
    settings,
    params: args.params,
    // After Ctrl-C the terminal has signalled the inference processes too: their exits are expected.
    onLog: (message) => {
      if (!interrupted.aborted) reporter.note(`sori engine: ${message}`);
    },
  });
}

async function transcribeOne(backend: Backend, file: string, path: string, format: OutputFormat, reporter: TranscribeReporter, interrupted: AbortSignal): Promise<Outcome> {
  if (interrupted.aborted) return { kind: 'interrupted' };
  try {
    const result: CompletedResult = await backend.transcribe(path, {
      signal: interrupted,
      onStarted: () => reporter.started(file),
      onDuration: (s) => reporter.duration(file, s),
      onProgress: (f) => reporter.progress(file, f),
    });
    reporter.done(file);
    return { kind: 'done', text: renderResult(result, format) };
  } catch (err) {
    if (err instanceof StillOnServer) {
      reporter.note(`${file}: ${err.message}; fetch it with GET /recognizer/${err.token}`);
      return { kind: 'interrupted' };
    }
    if (interrupted.aborted) return { kind: 'interrupted' };
    reporter.failed(file, err instanceof FileFailure ? err.message : describe(err));
    return { kind: 'failed' };
  }
}

/** Why a path cannot be transcribed before any tool runs on it, in plain words. */
async function unreadable(path: string): Promise<string | undefined> {
  try {
    const s = await stat(path);
    if (s.isDirectory()) return 'is a directory, not a media file';
    if (!s.isFile()) return 'is not a regular file';
    if (s.size === 0) return 'is empty (0 bytes)';
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'no such file';
    if (code === 'EACCES') return 'permission denied';
    return describe(err);
  }
}

/**
 * Results in the order the files were given: to stdout (with "==> FILE <==" headers when there
 * are several), or one file each in --out, written as each file finishes.
 */
class OrderedOutput {
  private readonly names: string[];
  private readonly pending = new Map<number, Outcome>();
  private next = 0;

  constructor(private readonly args: TranscribeArgs, private readonly io: Io) {
    this.names = outputNames(args.files, args.format);
  }

  async settle(i: number, outcome: Outcome): Promise<void> {
    if (this.args.outDir !== undefined) {
      if (outcome.kind === 'done') await writeAtomically(join(this.args.outDir, this.names[i]!), outcome.text);
      return;
    }
    this.pending.set(i, outcome);
    for (let o = this.pending.get(this.next); o !== undefined; o = this.pending.get(this.next)) {
      this.pending.delete(this.next);
      if (o.kind === 'done') this.write(this.next, o.text);
      this.next++;
    }
  }

  private write(i: number, text: string): void {
    if (this.args.files.length === 1) {
      this.io.stdout.write(text);
      return;
    }
    this.io.stdout.write(`==> ${this.args.files[i]} <==\n${text}\n`);
  }
}

/** A finished file appears whole or not at all (an interrupted run leaves no half file). */
async function writeAtomically(path: string, text: string): Promise<void> {
  const part = `${path}.part-${process.pid}`;
  await writeFile(part, text);
  await rename(part, path);
}

/** Runs `work` over the items, at most `limit` at once, in order of start; resolves with the outcomes in order. */
export async function runAll<I, T>(items: readonly I[], limit: number, work: (item: I) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array<T>(items.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await work(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
  return out;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
