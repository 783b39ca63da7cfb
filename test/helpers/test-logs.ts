/**
 * The test run's logs and secrets, for the check that no secret is ever logged
 * (test/check-logs.ts, run by `npm test` after both suites).
 *
 * `npm test` names a run directory in SORI_TEST_LOG_DIR. There, every logger the tests build
 * (the test servers', gRPC's, the spawned `sori` processes' output) writes its lines to a
 * `*.log` file, and every secret the tests configure or present (domain secrets, previous
 * secrets, the object store's secret key, every key a client sent to an auth gate: header,
 * Bearer token or `?key=`) is recorded in a `secrets-*.jsonl` file. Without the variable (one
 * test file run by hand) nothing is written and loggers only feed their callers.
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { DestinationStream } from 'pino';
import { AuthGate, domainSecrets, type AuthGateOptions } from '../../src/domains/auth.js';
import type { DomainConfig } from '../../src/config.js';
import { createLogger, type Logger } from '../../src/logger.js';

export const TEST_LOG_DIR_ENV = 'SORI_TEST_LOG_DIR';
/** Secrets shorter than this are not looked for: they occur in ordinary text by chance ("wrong"). */
export const MIN_SCANNED_SECRET_LENGTH = 8;
export const SECRETS_FILE_PREFIX = 'secrets-';

export function testLogDir(): string | undefined {
  const dir = process.env[TEST_LOG_DIR_ENV];
  return dir === undefined || dir === '' ? undefined : dir;
}

let files = 0;

/** Appends lines to `<run dir>/<name>-<pid>-<n>.log`; a no-op without a run directory. */
export function logSink(name: string): (text: string) => void {
  const dir = testLogDir();
  if (dir === undefined) return () => undefined;
  mkdirSync(dir, { recursive: true });
  const fd = openSync(join(dir, `${name.replace(/[^\w.-]/g, '_')}-${process.pid}-${++files}.log`), 'a');
  process.once('exit', () => closeSync(fd));
  // Synchronous, so nothing is lost when a test process exits at once.
  return (text) => void writeSync(fd, text);
}

/** A pino destination writing to the run's log file and, if given, to `also`. */
export function logDestination(name: string, also?: (line: string) => void): DestinationStream {
  const sink = logSink(name);
  return {
    write(line: string) {
      sink(line);
      also?.(line);
    },
  };
}

/** A logger for what the tests build themselves (a gRPC server, a job worker), at debug, into the run's log. */
export function testLogger(name: string, lines?: string[]): Logger {
  return createLogger({ level: 'debug', destination: logDestination(name, lines === undefined ? undefined : (l) => void lines.push(l)) });
}

let secretsFd: number | undefined;
const recorded = new Set<string>();

/** Records secrets for the final scan (`source` says where they came from, for its report). */
export function registerSecrets(source: string, ...secrets: ReadonlyArray<string | undefined>): void {
  const dir = testLogDir();
  if (dir === undefined) return;
  for (const secret of secrets) {
    if (typeof secret !== 'string' || secret.length < MIN_SCANNED_SECRET_LENGTH || recorded.has(secret)) continue;
    recorded.add(secret);
    if (secretsFd === undefined) {
      mkdirSync(dir, { recursive: true });
      secretsFd = openSync(join(dir, `${SECRETS_FILE_PREFIX}${process.pid}.jsonl`), 'a');
    }
    writeSync(secretsFd, `${JSON.stringify({ source, secret })}\n`);
  }
}

export function registerDomainSecrets(source: string, domains: readonly DomainConfig[]): void {
  registerSecrets(source, ...domains.flatMap(domainSecrets));
}

const recording = new WeakSet<AuthGate>();

/**
 * Makes `gate` record every key presented to it (on any surface) and returns it. Tests get
 * their keys through it whatever client they use, so none has to list what it sent.
 */
export function recordKeys<G extends AuthGate>(gate: G, source = 'presented'): G {
  if (recording.has(gate)) return gate;
  recording.add(gate);
  const authenticate = gate.authenticate.bind(gate);
  gate.authenticate = (origin, key) => {
    registerSecrets(source, ...(Array.isArray(key) ? key : [key]));
    return authenticate(origin, key);
  };
  return gate;
}

/** A gate over `domains` whose secrets, and every key presented to it, are recorded for the scan. */
export function testAuthGate(domains: readonly DomainConfig[], options?: AuthGateOptions): AuthGate {
  registerDomainSecrets('domain', domains);
  return recordKeys(new AuthGate(domains, options));
}

/**
 * Copies a child process's output into the run's logs, line by line; `skip` drops lines that
 * are meant to carry a secret (`sori`'s one announcement of the secret it generated, on stderr).
 */
export function teeOutput(name: string, stream: NodeJS.ReadableStream | null, skip?: RegExp): void {
  if (stream === null) return;
  const sink = logSink(name);
  let pending = '';
  stream.on('data', (chunk: Buffer | string) => {
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) if (skip === undefined || !skip.test(line)) sink(`${line}\n`);
  });
  stream.on('end', () => {
    if (pending !== '' && (skip === undefined || !skip.test(pending))) sink(`${pending}\n`);
  });
}
