/**
 * What every crash soak shares: the real server as a child process that is SIGKILLed and
 * restarted on the same port and data dir (`RestartableServer`), the check that its inference
 * process and ffmpeg exit on their own after the kill, and the loop of kill cycles at random
 * moments from a seeded generator (`runKillCycles`). Used by `soak.ts` (long-form jobs only) and
 * `mixed-soak.ts` (jobs, short requests and live streams at once).
 */
import { procStat } from '../../src/proc-stat.js';
import { startServer, treeMemory, type ServerHandle } from './server-process.js';
import { round } from './stats.js';

export type KillMode = 'server' | 'group';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Alive and not a zombie (a reparented child may linger as Z until init reaps it). */
export function alive(pid: number): boolean {
  const state = procStat(pid)?.[0];
  return state !== undefined && state !== 'Z' && state !== 'X';
}

/** One child of the killed server: how long it took to go away by itself (null: it lingered and was killed). */
export interface ChildFate {
  pid: number;
  role: string;
  goneMs: number | null;
}

export interface KillOutcome {
  children: ChildFate[];
  /** Children still alive `orphanWaitMs` after the kill, killed by the bench. */
  orphansKilled: number;
}

export interface RestartableServerOptions {
  apiKey: string;
  modelsDir: string;
  env: Record<string, string>;
  entry: string;
  logPath: string;
  /** Kept across restarts (the job store and media live there). */
  dataDir: string;
  port: number;
  readyTimeoutMs?: number;
}

/**
 * The server, started again after each kill on the same port and data dir. `up` is true from
 * /healthz answering 200 until the moment before a kill; `life` counts starts (1 = the first),
 * so a client can tell whether a failure happened in the life it started in.
 */
export class RestartableServer {
  life = 0;
  up = false;
  handle: ServerHandle | undefined;

  constructor(private readonly o: RestartableServerOptions) {}

  get baseUrl(): string {
    return `http://127.0.0.1:${this.o.port}`;
  }

  get port(): number {
    return this.o.port;
  }

  get dataDir(): string {
    return this.o.dataDir;
  }

  /** Starts the server and waits for /healthz; resolves with the seconds that took. */
  async start(): Promise<number> {
    const s0 = performance.now();
    this.handle = await startServer({
      apiKey: this.o.apiKey, modelsDir: this.o.modelsDir, env: this.o.env, entry: this.o.entry, logPath: this.o.logPath,
      dataDir: this.o.dataDir, port: this.o.port, appendLog: this.life > 0, readyTimeoutMs: this.o.readyTimeoutMs ?? 180_000,
    });
    this.life += 1;
    this.up = true;
    return (performance.now() - s0) / 1000;
  }

  /**
   * SIGKILLs the server (mode `server`) or its whole process group (`group`), then watches the
   * children it had for `orphanWaitMs`: they must exit on their own; those that do not are killed.
   */
  async kill(mode: KillMode, orphanWaitMs: number): Promise<KillOutcome> {
    const srv = this.handle;
    if (srv === undefined) throw new Error('kill: the server is not running');
    const children = treeMemory(srv.pid).filter((p) => p.pid !== srv.pid);
    const exited = new Promise<void>((r) => (srv.child.exitCode !== null || srv.child.signalCode !== null ? r() : srv.child.once('exit', () => r())));
    this.up = false;
    const killAt = performance.now();
    process.kill(mode === 'group' ? -srv.pid : srv.pid, 'SIGKILL');
    await exited;
    this.handle = undefined;
    const goneMs = new Map<number, number>();
    while (performance.now() - killAt < orphanWaitMs && goneMs.size < children.length) {
      for (const c of children) if (!goneMs.has(c.pid) && !alive(c.pid)) goneMs.set(c.pid, performance.now() - killAt);
      await sleep(20);
    }
    let orphansKilled = 0;
    for (const c of children) {
      if (!goneMs.has(c.pid) && alive(c.pid)) {
        orphansKilled += 1;
        try {
          process.kill(c.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
    return {
      children: children.map((c) => ({ pid: c.pid, role: c.role, goneMs: goneMs.has(c.pid) ? Math.round(goneMs.get(c.pid) as number) : null })),
      orphansKilled,
    };
  }

  /** Graceful stop (SIGTERM to the group, SIGKILL after a grace period). */
  async stop(): Promise<void> {
    this.up = false;
    const h = this.handle;
    this.handle = undefined;
    if (h) await h.stop();
  }
}

/** One kill: when, what was going on (`extra`, from the caller), the children's fate, the restart. */
export type KillRecord<Extra = Record<string, never>> = {
  cycle: number;
  atS: number;
  /** Seconds the server had been healthy before the kill. */
  upS: number;
  children: ChildFate[];
  orphansKilled: number;
  restartS: number | null;
  restartError?: string;
} & Extra;

export interface KillCycleOptions<Extra> {
  cycles: number;
  /** Random wait after the server is healthy before the next kill, seconds. */
  killDelayS: [number, number];
  killMode: KillMode;
  orphanWaitMs: number;
  /** Seeded generator in [0, 1): the schedule can be replayed. */
  random: () => number;
  /** Origin of `atS`, ms since the epoch. */
  t0: number;
  /** Right before each kill, after the random delay: may wait for a moment worth killing in, and describes it. */
  beforeKill: () => Promise<Extra>;
  /** A line of progress per kill. */
  describe: (rec: KillRecord<Extra>, cycles: number) => string;
  log: (line: string) => void;
}

/**
 * `cycles` times: wait a random delay, SIGKILL, watch the children, restart after 0-2 s (one
 * retry if the restart fails). The server must be up when it is called. Throws when a restart
 * fails twice; the records so far are in `into`.
 */
export async function runKillCycles<Extra>(server: RestartableServer, o: KillCycleOptions<Extra>, into: KillRecord<Extra>[]): Promise<void> {
  for (let cycle = 1; cycle <= o.cycles; cycle++) {
    const up0 = Date.now();
    const delay = o.killDelayS[0] + o.random() * (o.killDelayS[1] - o.killDelayS[0]);
    await sleep(delay * 1000);
    const extra = await o.beforeKill();
    const upS = round((Date.now() - up0) / 1000, 1);
    const killed = await server.kill(o.killMode, o.orphanWaitMs);
    const rec = { cycle, atS: round((Date.now() - o.t0) / 1000, 1), upS, ...killed, restartS: null, ...extra } as KillRecord<Extra>;
    into.push(rec);
    o.log(o.describe(rec, o.cycles));
    await sleep(o.random() * 2000);
    try {
      rec.restartS = round(await server.start(), 1);
    } catch (err) {
      rec.restartError = (err as Error).message.slice(0, 500);
      o.log(`restart failed: ${rec.restartError}; retrying once`);
      rec.restartS = round(await server.start(), 1);
    }
  }
}

/** "inference:35ms ffmpeg:LINGERED" for a kill's progress line. */
export function describeChildren(children: readonly ChildFate[]): string {
  return children.map((c) => `${c.role}:${c.goneMs === null ? 'LINGERED' : `${c.goneMs}ms`}`).join(' ') || 'none';
}

/** Totals of the children's fates over every kill. */
export function orphanTotals(kills: readonly { children: ChildFate[]; orphansKilled: number }[]): {
  childrenSeen: number;
  exitedOnTheirOwn: number;
  killedByBench: number;
  maxGoneMs: number | null;
} {
  const kids = kills.flatMap((k) => k.children);
  const gone = kids.filter((c) => c.goneMs !== null);
  return {
    childrenSeen: kids.length,
    exitedOnTheirOwn: gone.length,
    killedByBench: kills.reduce((s, k) => s + k.orphansKilled, 0),
    maxGoneMs: gone.length ? Math.max(...gone.map((c) => c.goneMs as number)) : null,
  };
}

/** Picks items at random, weighted (`weight`, default 1). */
export function weightedPicker<T extends { weight?: number }>(pool: readonly T[], random: () => number): () => T {
  const total = pool.reduce((s, p) => s + (p.weight ?? 1), 0);
  return () => {
    let x = random() * total;
    for (const p of pool) {
      x -= p.weight ?? 1;
      if (x <= 0) return p;
    }
    return pool[pool.length - 1];
  };
}
