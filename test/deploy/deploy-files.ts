/**
 * Reading deploy/ for its tests: the Dockerfile's instructions and ENV, the settings a node of
 * each deployment starts with, and the drain time every deployment must leave a node.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
export const DEPLOY = join(REPO_ROOT, 'deploy');

/**
 * What a node may take to stop after SIGTERM (docs/deployment.md#graceful-drain): gRPC streams
 * are cut after 5 s, sync waits answer at once, running jobs are released, but HTTP requests in
 * flight (a short recognition, an OpenAI transcription of a long file) are let finish.
 */
export const DRAIN_SECONDS = 60;

/** Peak RSS of one node in docs/benchmarks.md (long-form with speakers, whole process tree). */
export const PEAK_RSS_BYTES = 1379 * 1024 * 1024;

export interface Instruction {
  keyword: string;
  args: string;
}

/** The Dockerfile's instructions, continuation lines joined, comments and parser directives dropped. */
export async function dockerfileInstructions(): Promise<Instruction[]> {
  const text = await readFile(join(DEPLOY, 'Dockerfile'), 'utf8');
  const out: Instruction[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1) + ' ';
      continue;
    }
    const whole = (pending + line).trim();
    pending = '';
    const m = /^(\w+)\s+(.*)$/.exec(whole);
    if (m) out.push({ keyword: m[1].toUpperCase(), args: m[2] });
  }
  return out;
}

/** The ENV of the Dockerfile's last stage (the image that runs), `KEY=value` pairs. */
export async function imageEnv(): Promise<Record<string, string>> {
  const instructions = await dockerfileInstructions();
  const lastFrom = instructions.map((i) => i.keyword).lastIndexOf('FROM');
  const env: Record<string, string> = {};
  for (const i of instructions.slice(lastFrom)) {
    if (i.keyword !== 'ENV') continue;
    for (const m of i.args.matchAll(/([A-Z_][A-Z0-9_]*)=("[^"]*"|\S+)/g)) env[m[1]] = m[2].replace(/^"|"$/g, '');
  }
  return env;
}
