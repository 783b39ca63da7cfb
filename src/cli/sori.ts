#!/usr/bin/env node
/**
 * The `sori` command: run the server and manage models.
 * Exit codes: 0 ok, 1 failure, 2 usage error; messages go to stderr.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { DownloadError, pullModel } from '../speech/models/download.js';
import { defaultModelsDir, getModel, listModels, statusOf, UnknownModelError, type ModelInfo } from '../speech/models/registry.js';
import { createReporter, formatBytes } from './progress.js';
import { isParseArgsError, UsageError, type Io } from './command-io.js';

const HELP = `Usage: sori <command> [options]

Commands:
  serve                 Start the speech recognition server
  transcribe FILE...    Transcribe files, in this process or on a server
                        (\`sori transcribe --help\` for its options)
  models list           List known models and whether they are installed
  models pull <name>    Download a model into the models folder

Options:
  --dir <dir>           Models folder (default: $SORI_MODELS_DIR, else ./models)
  --mirror <url>        Hugging Face mirror to download from instead of
                        https://huggingface.co (default: $SORI_MODELS_MIRROR)
  -h, --help            Show this help
  -v, --version         Show the version

Without internet, copy a model folder (e.g. whisper-base/) into the models folder instead.

Exit codes: 0 done, 1 failed (transcribe: some file failed), 2 usage error, 130 interrupted.
`;

export type { Io };

const MirrorSchema = z.url({ protocol: /^https?$/ });

/** Runs one command; resolves to the exit code (undefined: leave the process running, as `serve` does). */
export async function run(argv: string[], io: Io): Promise<number | undefined> {
  try {
    return await dispatch(argv, io);
  } catch (err) {
    if (err instanceof UsageError || isParseArgsError(err)) {
      const help = argv[0] === 'transcribe' ? 'sori transcribe --help' : 'sori --help';
      io.stderr.write(`sori: ${(err as Error).message}\nRun \`${help}\` for usage.\n`);
      return 2;
    }
    io.stderr.write(`sori: ${err instanceof DownloadError ? err.message : describe(err)}\n`);
    return 1;
  }
}

async function dispatch(argv: string[], io: Io): Promise<number | undefined> {
  // Its own options (transcribe/args.ts); everything after the command name is its.
  if (argv[0] === 'transcribe') {
    const { transcribeCommand } = await import('./transcribe/command.js');
    return transcribeCommand(argv.slice(1), io);
  }
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      dir: { type: 'string' },
      mirror: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
  });
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  if (values.version) {
    io.stdout.write(`${readVersion()}\n`);
    return 0;
  }

  const [command, sub, ...rest] = positionals;
  const modelsDir = values.dir !== undefined ? defaultModelsDir({ SORI_MODELS_DIR: values.dir }, io.cwd) : defaultModelsDir(io.env, io.cwd);
  if (values.mirror !== undefined && !(command === 'models' && sub === 'pull')) throw new UsageError('--mirror only applies to `models pull`');

  switch (command) {
    case undefined:
      io.stderr.write(HELP);
      return 2;
    case 'serve':
      if (sub !== undefined) throw new UsageError(`unexpected argument "${sub}" for serve`);
      return serve(values.dir !== undefined ? modelsDir : undefined);
    case 'models':
      if (sub === 'list') {
        if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}" for models list`);
        listCommand(modelsDir, io);
        return 0;
      }
      if (sub === 'pull') {
        const [name, ...extra] = rest;
        if (name === undefined) throw new UsageError('models pull needs a model name (see `sori models list`)');
        if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}" for models pull`);
        return pullCommand(lookup(name), modelsDir, mirrorOption(values.mirror, io.env), io);
      }
      throw new UsageError(sub === undefined ? 'models needs a subcommand: list or pull' : `unknown models subcommand "${sub}"`);
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

/** A mistyped name on the command line is a usage error (2), unlike a bad name in the config. */
function lookup(name: string): ModelInfo {
  try {
    return getModel(name);
  } catch (err) {
    if (err instanceof UnknownModelError) throw new UsageError(err.message);
    throw err;
  }
}

function mirrorOption(flag: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  const value = flag ?? (env.SORI_MODELS_MIRROR || undefined);
  if (value === undefined) return undefined;
  if (!MirrorSchema.safeParse(value).success) {
    throw new UsageError(`the mirror must be an http(s) URL, got "${value}"${flag === undefined ? ' from SORI_MODELS_MIRROR' : ''}`);
  }
  return value;
}

function listCommand(modelsDir: string, io: Io): void {
  const rows = listModels().map((m) => {
    const status = statusOf(modelsDir, m);
    const required = m.files.filter((f) => !f.optional).length;
    let state = status.present ? 'present' : status.missing.length === required ? 'missing' : `incomplete (${status.missing.length} of ${required} files missing)`;
    if (!status.present && m.manual) state += ' (copy by hand)';
    return [m.name, m.kind, `~${formatBytes(m.approxBytes)}`, state];
  });
  io.stdout.write(`Models in ${modelsDir}\n\n${table([['NAME', 'KIND', 'SIZE', 'STATUS'], ...rows])}`);
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ')).join('\n') + '\n';
}

async function pullCommand(model: ModelInfo, modelsDir: string, mirror: string | undefined, io: Io): Promise<number> {
  const ac = new AbortController();
  const onSigint = (): void => ac.abort(new Error('interrupted; partial downloads are kept and resume on the next pull'));
  process.once('SIGINT', onSigint);
  const reporter = createReporter(io.stdout);
  try {
    io.stdout.write(`Pulling ${model.name} into ${modelsDir}${mirror ? ` (mirror ${mirror})` : ''}\n`);
    const result = await pullModel(model, {
      modelsDir,
      ...(mirror ? { mirror } : {}),
      signal: ac.signal,
      onProgress: (p) => reporter.progress(p),
      onFile: (r) => reporter.file(r),
    });
    reporter.stop();
    const unverified = result.files.filter((f) => f.status !== 'skipped' && f.verified === 'none');
    io.stdout.write(`${model.name} is ready in ${result.dir}\n`);
    if (unverified.length > 0) {
      io.stdout.write(`Note: not verified (no checksum available): ${unverified.map((f) => f.path).join(', ')}\n`);
    }
    return 0;
  } finally {
    reporter.stop();
    process.off('SIGINT', onSigint);
  }
}

/**
 * Imported lazily so `models` commands never load the server (or its ONNX runtime); the server
 * reads its models folder from SORI_MODELS_DIR, which `--dir` sets.
 */
async function serve(modelsDir: string | undefined): Promise<undefined> {
  if (modelsDir !== undefined) process.env.SORI_MODELS_DIR = modelsDir;
  const { main } = await import('../main.js');
  await main();
  return undefined;
}

function readVersion(): string {
  const raw: unknown = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  return z.object({ version: z.string() }).parse(raw).version;
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

function invokedDirectly(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return pathToFileURL(realpathSync(script)).href === import.meta.url;
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  const code = await run(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() });
  if (code !== undefined) process.exitCode = code;
}
