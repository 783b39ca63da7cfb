/** Writes the latest result where the lead (and CI) can find it: .bench/<name>-latest.json. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, loadavg } from 'node:os';
import { OUT_DIR } from './paths.js';

/** One line of a bench's verdict: a figure against its target. */
export type Status = 'PASS' | 'FAIL' | 'info' | 'n/a';
export interface Check {
  name: string;
  value: string;
  target: string;
  status: Status;
}

export function writeLatest(name: string, data: unknown): string {
  mkdirSync(OUT_DIR, { recursive: true });
  const path = join(OUT_DIR, `${name}-latest.json`);
  writeFileSync(path, JSON.stringify(data, null, 2) + '\n');
  return path;
}

/** Node and machine facts that make a timing figure interpretable later. */
export function machineInfo(): Record<string, unknown> {
  return {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpus: osCpus(),
  };
}

function osCpus(): { count: number; model: string; loadavg: number[] } {
  const c = cpus();
  return { count: c.length, model: c[0]?.model ?? 'unknown', loadavg: loadavg().map((x) => Math.round(x * 100) / 100) };
}

/**
 * The end of every bench run: write the JSON, print it or the report, and choose the exit code
 * (1 on an error, and with --strict on any failed check).
 */
export function finishRun<R extends { checks: ReadonlyArray<{ status: string }>; error?: string | null }>(
  name: string,
  result: R,
  report: (r: R) => string,
  opts: { json?: boolean; strict?: boolean },
): number {
  const path = writeLatest(name, result);
  if (opts.json) console.log(JSON.stringify(result));
  else console.log(report(result) + `\n\nwritten: ${path}`);
  if (result.error) return 1;
  if (opts.strict && result.checks.some((c) => c.status === 'FAIL')) return 1;
  return 0;
}
