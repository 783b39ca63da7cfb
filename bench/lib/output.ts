/** Writes the latest result where the lead (and CI) can find it: .bench/<name>-latest.json. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, loadavg } from 'node:os';
import { OUT_DIR } from './paths.js';

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
