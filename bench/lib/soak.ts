/**
 * Crash soak of long-form jobs: the real server (own data dir, kept across restarts), a local
 * callback receiver, a steady stream of async uploads with a callback URL, and `cycles` SIGKILLs
 * of the server at random moments while jobs run, each followed by a restart. Then every
 * accepted job (every token answered 2xx) must end COMPLETED, with its callback delivered once.
 *
 * Kill mode `server` (default) SIGKILLs the server process only, as a crash or the OOM killer
 * would, and checks that its inference process and ffmpeg exit on their own (they are then
 * killed after `orphanWaitMs` if they did not, and counted); mode `group` SIGKILLs the whole
 * process group at once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clip } from './manifest.js';
import { startCallbackReceiver } from './callback-receiver.js';
import { CallbackJobLoad, type CallbackJobTally } from './callback-jobs.js';
import { describeChildren, orphanTotals, RestartableServer, runKillCycles, type KillMode, type KillRecord as CycleKillRecord } from './crash-cycle.js';
import type { CorpusRate } from './score.js';
import { freePort } from './server-process.js';
import { log } from './progress.js';
import { round } from './stats.js';
import { mulberry32 } from '../../src/speech/whisper/search.js';

export interface SoakOptions {
  cycles: number;
  apiKey: string;
  modelsDir: string;
  env: Record<string, string>;
  entry: string;
  logPath: string;
  /** Clips submitted, picked at random (weighted by `weight`, default 1). */
  pool: { clip: Clip; weight?: number }[];
  /** Random wait after the server is healthy before the next kill, seconds. */
  killDelayS: [number, number];
  killMode: KillMode;
  /** A new upload about this often (ms, jittered), while fewer than `maxOutstanding` are unfinished. */
  submitEveryMs: number;
  maxOutstanding: number;
  drainTimeoutS: number;
  orphanWaitMs: number;
  /** Seeded so that a run can be repeated. */
  seed: number;
}

export type KillRecord = CycleKillRecord<{
  /** Jobs GET said PROCESSING right before the kill. */
  processing: number;
  unfinished: number;
}>;

export interface SoakResult {
  settings: Omit<SoakOptions, 'apiKey' | 'pool' | 'env'> & { pool: { file: string; durationS: number; weight: number }[]; env: Record<string, string> };
  wallS: number;
  kills: KillRecord[];
  submissions: CallbackJobTally['submissions'];
  jobs: CallbackJobTally['jobs'];
  accuracy: CorpusRate[];
  orphans: { childrenSeen: number; exitedOnTheirOwn: number; killedByBench: number; maxGoneMs: number | null };
  error?: string;
}

export async function runSoak(o: SoakOptions): Promise<SoakResult> {
  // The engine's seeded PRNG (mulberry32), so a soak's schedule can be replayed.
  const random = mulberry32(o.seed);
  const t0 = Date.now();
  const dataDir = mkdtempSync(join(tmpdir(), 'sori-soak-'));
  const env = { ...o.env, SORI_ALLOW_PRIVATE_URLS: 'true' };
  const receiver = await startCallbackReceiver();
  const server = new RestartableServer({ apiKey: o.apiKey, modelsDir: o.modelsDir, env, entry: o.entry, logPath: o.logPath, dataDir, port: await freePort() });
  const load = new CallbackJobLoad({ server, apiKey: o.apiKey, receiver, pool: o.pool, random, submitEveryMs: o.submitEveryMs, maxOutstanding: o.maxOutstanding });
  const kills: KillRecord[] = [];
  let error: string | undefined;

  try {
    log(`soak: starting the server (data dir ${dataDir})`);
    await server.start();
    log(`soak: server up on ${server.baseUrl}; callbacks to ${receiver.url}; ${o.cycles} kill cycles`);
    load.start();
    await runKillCycles(server, {
      cycles: o.cycles, killDelayS: o.killDelayS, killMode: o.killMode, orphanWaitMs: o.orphanWaitMs, random, t0,
      // "While jobs are running": give a job up to 20 s more to be PROCESSING.
      beforeKill: async () => ({ processing: await load.waitForProcessing(20_000), unfinished: load.unfinished().length }),
      describe: (rec, cycles) => `soak: kill ${rec.cycle}/${cycles} after ${rec.upS} s up: ${rec.processing} processing, ${rec.unfinished} unfinished; children ${describeChildren(rec.children)}`,
      log: (line) => log(line.startsWith('soak:') ? line : `soak: ${line}`),
    }, kills);
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
    log(`soak: ERROR ${error}`);
  }

  // Drain: no more uploads; every accepted job must finish and call back.
  await load.stop();
  log(`soak: ${load.acceptedCount} jobs accepted; draining (up to ${o.drainTimeoutS} s)`);
  if (!server.up) await server.start().catch((err: unknown) => log(`soak: no server to drain on: ${(err as Error).message.slice(0, 300)}`));
  if (server.up) await load.drain(o.drainTimeoutS);
  const wallS = (Date.now() - t0) / 1000;
  await server.stop();
  await receiver.close();
  const tally = load.tally(o.logPath, dataDir);
  rmSync(dataDir, { recursive: true, force: true });
  return {
    settings: {
      cycles: o.cycles, modelsDir: o.modelsDir, entry: o.entry, logPath: o.logPath, killDelayS: o.killDelayS, killMode: o.killMode,
      submitEveryMs: o.submitEveryMs, maxOutstanding: o.maxOutstanding, drainTimeoutS: o.drainTimeoutS, orphanWaitMs: o.orphanWaitMs, seed: o.seed,
      pool: o.pool.map((p) => ({ file: p.clip.file, durationS: p.clip.durationS, weight: p.weight ?? 1 })),
      env,
    },
    wallS: round(wallS, 1),
    kills,
    submissions: tally.submissions,
    jobs: tally.jobs,
    accuracy: tally.accuracy,
    orphans: orphanTotals(kills),
    ...(error ? { error } : {}),
  };
}
