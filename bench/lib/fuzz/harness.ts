/**
 * The fuzzing harness shared by `npm run bench:hardening` (thousands of cases per surface) and
 * the seeded samples in `npm test`: a surface is a fast-check arbitrary of cases; each case
 * sends itself to a running server and says what came back and whether that is a documented
 * answer. Everything is reproducible from (seed, index).
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { percentile } from '../stats.js';
import type { Exchange, RawTarget } from './raw-http.js';

export interface FuzzTarget extends RawTarget {
  baseUrl: string;
  /** The server's gRPC port (NestService), when it listens on one. */
  grpcPort?: number;
  /** A valid domain secret. */
  key: string;
  /** A short real recording (WAV, 16 kHz mono), for cases that need audio the server accepts. */
  clip: Uint8Array;
}

export interface Outcome {
  /** What came back, e.g. "400 STT002", "413", "ws close 4400", "grpc INVALID_ARGUMENT", "closed". */
  label: string;
  /** A documented answer for this input; anything else is a defect. */
  documented: boolean;
  detail?: string;
}

export interface FuzzCase {
  family: string;
  /** One line a person can read to replay the case by hand. */
  describe: string;
  run(target: FuzzTarget): Promise<Outcome>;
}

export interface Surface {
  name: string;
  cases: fc.Arbitrary<FuzzCase>;
}

export interface FamilyReport {
  count: number;
  outcomes: Record<string, number>;
  defects: Array<{ index: number; describe: string; outcome: Outcome }>;
}

export interface SurfaceReport {
  surface: string;
  seed: number;
  count: number;
  ms: number;
  families: Record<string, FamilyReport>;
}

/**
 * The property the seeded samples in `npm test` check: every case of `surface` gets a documented
 * answer (fast-check shrinks a failure and prints its seed).
 */
export function documentedProperty(surface: Surface, target: FuzzTarget): fc.IAsyncPropertyWithHooks<[FuzzCase]> {
  return fc.asyncProperty(surface.cases, async (c) => {
    const o = await c.run(target);
    if (!o.documented) throw new Error(`${c.family}: ${c.describe}\n  -> ${o.label}${o.detail ? ` (${o.detail})` : ''}`);
  });
}

/** The cases of a surface for `seed`, in order: case i is the same on every machine. */
export function generate(surface: Surface, seed: number, count: number): FuzzCase[] {
  return fc.sample(surface.cases, { seed, numRuns: count });
}

export async function runSurface(
  surface: Surface,
  target: FuzzTarget,
  opts: { seed: number; count: number; concurrency?: number; onProgress?: (done: number) => void; stopWhen?: () => string | undefined },
): Promise<SurfaceReport> {
  const cases = generate(surface, opts.seed, opts.count);
  const families: Record<string, FamilyReport> = {};
  const started = Date.now();
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < cases.length) {
      const index = next++;
      const c = cases[index];
      const fam = (families[c.family] ??= { count: 0, outcomes: {}, defects: [] });
      let outcome: Outcome;
      try {
        outcome = await c.run(target);
      } catch (err) {
        outcome = { label: 'harness error', documented: false, detail: err instanceof Error ? err.message : String(err) };
      }
      fam.count++;
      fam.outcomes[outcome.label] = (fam.outcomes[outcome.label] ?? 0) + 1;
      if (!outcome.documented && fam.defects.length < 20) fam.defects.push({ index, describe: c.describe, outcome });
      done++;
      opts.onProgress?.(done);
      const stop = opts.stopWhen?.();
      if (stop !== undefined) throw new Error(`${surface.name}: stopped after case ${index} (${c.describe}): ${stop}`);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 8 }, () => worker()));
  return { surface: surface.name, seed: opts.seed, count: cases.length, ms: Date.now() - started, families };
}

/** The error code in a JSON error body: CLOVA short (`error.errorCode`), long-form (`result`) or fastify (`code`). */
export function errorCode(body: string): string | undefined {
  try {
    const j = JSON.parse(body) as { error?: { errorCode?: unknown; code?: unknown } | string; result?: unknown; code?: unknown; statusCode?: unknown };
    // fastify's own error shape ({statusCode, error, message[, code]}) is never a route's
    // documented answer, except the HTTP layer's: bytes that are not HTTP (its client-error
    // answers) and paths no route serves (404). Those are labelled by their status alone.
    if (typeof j.error === 'string' && typeof j.statusCode === 'number') {
      const m = (j as { message?: unknown }).message;
      if (m === 'Client Error' || m === 'Client Timeout' || m === 'Exceeded maximum allowed HTTP header size') return undefined;
      if (j.statusCode === 404 && typeof m === 'string' && /^Route .* not found$/.test(m)) return undefined;
      return `fastify:${typeof j.code === 'string' ? j.code : j.error}`;
    }
    const code = typeof j.error === 'object' && j.error !== null ? (j.error.errorCode ?? j.error.code) : (j.result ?? j.code);
    return typeof code === 'string' ? code : undefined;
  } catch {
    return undefined;
  }
}

/**
 * An HTTP exchange as an outcome. `documented(status, code)` says which answers the surface
 * documents for bad input; a 5xx that is not listed there, a hang and a connection closed
 * without an answer are never documented (Node's own parser answers malformed HTTP with 400).
 */
export function httpOutcome(ex: Exchange, documented: (status: number, code: string | undefined) => boolean): Outcome {
  if (ex.kind === 'timeout') return { label: 'timeout', documented: false };
  if (ex.kind === 'closed') return { label: 'closed', documented: false, detail: ex.error };
  const code = errorCode(ex.body);
  const label = code === undefined ? String(ex.status) : `${ex.status} ${code}`;
  return { label, documented: documented(ex.status, code), detail: ex.status >= 500 ? ex.body.slice(0, 300) : undefined };
}


export interface HealthReport {
  probes: number;
  failures: number;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

/**
 * A healthy client during an attack: `probe` (a real request) every `everyMs`; its latency and
 * failures are what the attack costs real users.
 */
export function startHealthProbe(probe: () => Promise<boolean>, everyMs = 500): { stop(): HealthReport; failing(): boolean } {
  const latencies: number[] = [];
  let failures = 0;
  let consecutive = 0;
  let running = true;
  const loop = async (): Promise<void> => {
    while (running) {
      const t0 = performance.now();
      let ok = false;
      try {
        ok = await probe();
      } catch {
        ok = false;
      }
      latencies.push(performance.now() - t0);
      if (ok) consecutive = 0;
      else {
        failures++;
        consecutive++;
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
  };
  void loop();
  return {
    failing: () => consecutive >= 10,
    stop: () => {
      running = false;
      const r = (n: number): number | null => (Number.isNaN(n) ? null : Math.round(n));
      return { probes: latencies.length, failures, p50Ms: r(percentile(latencies, 50)), p99Ms: r(percentile(latencies, 99)), maxMs: r(percentile(latencies, 100)) };
    },
  };
}

/** pino's error (50) and fatal (60) lines appended to a server log since byte `from`: bad input should cause none. */
export function serverErrorsSince(logPath: string, from: number): string[] {
  const text = readFileSync(logPath).subarray(from).toString('utf8');
  return text.split('\n').filter((l) => /"level":(50|60)\b/.test(l)).map((l) => l.slice(0, 400));
}
