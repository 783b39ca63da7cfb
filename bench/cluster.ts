/**
 * The cluster under failure: three real nodes from scripts/cluster.sh on one PostgreSQL and the
 * S3-compatible server, async long-form jobs with callbacks sent round-robin across them, one
 * random node SIGKILLed every --kill-every seconds and started again, PostgreSQL crashed
 * (`postgres.sh stop ... immediate`) and restarted once mid-run. Then every job must end:
 *
 *   - jobs accepted / completed / failed / lost, completed twice (callbacks and the nodes' logs);
 *   - callbacks per job (exactly once?), callbacks for tokens no client was given;
 *   - takeover time after each kill: from the kill to the next `job started` of each job the
 *     killed node was running, on another process (the nodes' JSON logs), against the lease.
 *     Another node claims it once the lease lapses and it has a free job slot; the killed node,
 *     started again on the same host, frees the dead process's leases at once as it starts
 *     (jobs/owner.ts: same host and pid namespace, process gone), so some jobs go back to it: both are counted apart;
 *   - callbacks by `X-Sori-Delivery-Id`: a delivery repeated (its node died between the
 *     receiver's answer and recording it) is the documented at-least-once case a receiver drops
 *     by that id; two different delivery ids for one job would be a job delivered twice;
 *   - throughput per node (audio seconds per wall second per node) with 1, 2 and 3 nodes of one
 *     inference thread each, no kills (--throughput-nodes), with the CPU the nodes' process trees
 *     and PostgreSQL used. One node of one inference thread already keeps about 1.5 of 2 cores
 *     busy (its server: VAD, ffmpeg, HTTP), so on this machine per-node throughput falls as nodes
 *     are added whatever the store does. What shows the store is not the bottleneck: audio per
 *     CPU second of the nodes stays flat (nobody idles waiting on it) while the cores are busy,
 *     and PostgreSQL's own CPU stays small.
 *
 * Only the public HTTP API, cluster.sh and postgres.sh are used (and the nodes' log files), so
 * the bench does not care where a node keeps its media.
 *
 *   npm run bench:cluster
 *   npm run bench:cluster -- --jobs 60 --kill-every 20 --lease 10 --seed 7
 *
 * Writes .bench/cluster-latest.json.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { portFree, runClusterSh } from './lib/cluster-sh.js';
import { startCallbackReceiver, type CallbackRecord } from './lib/callback-receiver.js';
import { sleep, weightedPicker } from './lib/crash-cycle.js';
import { FINISHED, getJob, LONGFORM_LANG, uploadLongform } from './lib/longform-client.js';
import { clipFromEntry, loadManifest, manifestPath, type Clip } from './lib/manifest.js';
import { machineInfo, writeLatest } from './lib/output.js';
import { modelsDir, REPO_ROOT, testdataDir } from './lib/paths.js';
import { treeCpuSeconds } from './lib/proc-cpu.js';
import { percentile, round } from './lib/stats.js';

const { values: a } = parseArgs({
  options: {
    jobs: { type: 'string', default: '60' },
    nodes: { type: 'string', default: '3' },
    'kill-every': { type: 'string', default: '20' },
    // Faster than three nodes can recognise even on a quiet machine: a backlog keeps every job
    // slot busy, so each kill catches jobs mid-way.
    'submit-every': { type: 'string', default: '1' },
    lease: { type: 'string', default: '10' },
    // Enough work that each phase lasts 30 s or more on 2 cores (a shorter one is mostly start-up).
    'throughput-jobs': { type: 'string', default: '36' },
    'throughput-nodes': { type: 'string', default: '1,2,3' },
    'min-clip': { type: 'string', default: '5' },
    'max-clip': { type: 'string', default: '20' },
    seed: { type: 'string', default: '7' },
    'drain-timeout': { type: 'string', default: '900' },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (a.help) {
  console.log('usage: npm run bench:cluster -- [--jobs 60] [--nodes 3] [--kill-every 20] [--submit-every 1] [--lease 10] [--throughput-jobs 36] [--throughput-nodes 1,2,3] [--min-clip 5] [--max-clip 20] [--seed 7] [--keep]');
  process.exit(0);
}
const JOBS = Number(a.jobs);
const NODES = Number(a.nodes);
const KILL_EVERY_MS = Number(a['kill-every']) * 1000;
const SUBMIT_EVERY_MS = Number(a['submit-every']) * 1000;
const LEASE_S = Number(a.lease);
const API_KEY = `bench-cluster-${Math.random().toString(36).slice(2)}-key`;

const run = promisify(execFile);
const POSTGRES_SH = resolve(REPO_ROOT, 'scripts', 'postgres.sh');

/** mulberry32: a seeded generator, so a run's kill order can be replayed. */
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = seeded(Number(a.seed));
const t0 = Date.now();
const at = () => round((Date.now() - t0) / 1000, 1);
const say = (msg: string) => console.error(`[${at().toFixed(1)} s] ${msg}`);

/** A random port p with p .. p+n-1 free (cluster.sh puts node I on p+I-1). */
async function freeRun(n: number, avoid: number[] = []): Promise<number> {
  for (;;) {
    // Below the ephemeral range (32768-60999), where outgoing connections could take a port first.
    const p = 20000 + Math.floor(Math.random() * 12000);
    let ok = true;
    for (let i = 0; i < n && ok; i++) ok = !avoid.includes(p + i) && (await portFree(p + i));
    if (ok) return p;
  }
}

interface Node {
  index: number;
  base: string;
  pid: number;
}

let clusterDir = '';
let env: NodeJS.ProcessEnv = {};
const nodes = new Map<number, Node>();

function cluster(...args: string[]): Promise<string> {
  return runClusterSh(args, env, 900_000);
}

function parseNodeLines(out: string): void {
  for (const line of out.trim().split('\n')) {
    const m = /^node(\d+) (http:\/\/\S+) grpc \S+ pid (\d+)$/.exec(line.trim());
    if (m) nodes.set(Number(m[1]), { index: Number(m[1]), base: m[2], pid: Number(m[3]) });
  }
}

// ---------------------------------------------------------------- clips

/**
 * ko and en clips of --min-clip to --max-clip seconds (one window: a job restarts from the start),
 * and about one job in 8 the 3-minute dialogue, long enough to be checkpointed and resumed.
 */
function clipPool(): { short: Clip[]; all: { clip: Clip; weight: number }[] } {
  const testdata = testdataDir();
  const manifest = loadManifest(manifestPath(testdata));
  const short = manifest
    .filter((e) => (e.lang === 'ko' || e.lang === 'en') && e.duration_s >= Number(a['min-clip']) && e.duration_s <= Number(a['max-clip']))
    .map((e) => clipFromEntry(e, testdata));
  const all = short.map((clip) => ({ clip, weight: 1 }));
  const dialog = manifest.find((e) => e.file === 'ko/dialog_etts_lmy_kih_3min.flac');
  if (dialog) all.push({ clip: clipFromEntry(dialog, testdata), weight: Math.max(1, Math.round(short.length / 7)) });
  return { short, all };
}

// ---------------------------------------------------------------- submissions

interface Accepted {
  token: string;
  clip: Clip;
  node: number;
  acceptedAt: number;
  /** Upload attempts before this one was accepted (a node down, PostgreSQL down, cut by a kill). */
  retries: number;
}

const refusals: Record<string, number> = {};
const count = (k: string) => {
  refusals[k] = (refusals[k] ?? 0) + 1;
};

/**
 * Uploads one clip to node `first`, or to the next one while a node does not answer or answers
 * 503 (PostgreSQL down): what a client behind a load balancer would see, retried. An upload cut
 * by a kill may have been stored all the same: its callback then names a token nobody was given.
 */
async function submit(clip: Clip, first: number, callback: string, among = NODES): Promise<Accepted> {
  for (let attempt = 0; ; attempt++) {
    const index = ((first - 1 + attempt) % among) + 1;
    const node = nodes.get(index)!;
    const r = await uploadLongform(node.base, API_KEY, clip.path, {
      language: LONGFORM_LANG[clip.lang] ?? clip.lang,
      completion: 'async',
      callback,
    });
    if (r.status === 200 && r.body?.result === 'SUCCEEDED' && typeof r.body.token === 'string') {
      return { token: r.body.token, clip, node: index, acceptedAt: Date.now(), retries: attempt };
    }
    count(r.status === 0 ? `no answer (${(r.error ?? '').split(':')[0]})` : `HTTP ${r.status} ${r.body?.result ?? ''}`.trim());
    if (attempt > 200) throw new Error(`${clip.file}: not accepted after ${attempt} attempts (last: ${r.status} ${r.raw.slice(0, 200)})`);
    await sleep(attempt % among === among - 1 ? 1000 : 50);
  }
}

/** GET each token from any node that answers until every one is finished (or the deadline). */
async function waitAll(tokens: string[], deadlineS: number): Promise<Map<string, string>> {
  const state = new Map<string, string>();
  const until = Date.now() + deadlineS * 1000;
  let turn = 0;
  for (;;) {
    const pending = tokens.filter((t) => !FINISHED.has(state.get(t) ?? ''));
    if (pending.length === 0 || Date.now() > until) return state;
    for (const t of pending) {
      for (let k = 0; k < NODES; k++) {
        const node = nodes.get(((turn++ + k) % NODES) + 1);
        if (!node) continue;
        const r = await getJob(node.base, API_KEY, t);
        if (r.status === 200 && r.body) {
          state.set(t, r.body.result);
          break;
        }
      }
    }
    await sleep(1000);
  }
}

// ---------------------------------------------------------------- logs

interface LogLine {
  /** Which node's log (cluster.sh's index). */
  node: number;
  time: number;
  pid: number;
  msg: string;
  token?: string;
  attempt?: number;
  resumeAtMs?: number;
  audioMs?: number;
}

async function logLines(): Promise<LogLine[]> {
  const out: LogLine[] = [];
  for (const name of await readdir(clusterDir)) {
    if (!/^node\d+\.log$/.test(name)) continue;
    for (const line of (await readFile(join(clusterDir, name), 'utf8')).split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        const l = { ...(JSON.parse(line) as LogLine), node: Number(/\d+/.exec(name)![0]) };
        if (typeof l.time === 'number' && typeof l.msg === 'string') out.push(l);
      } catch {
        // a line that is not pino's
      }
    }
  }
  return out.sort((x, y) => x.time - y.time);
}

// ---------------------------------------------------------------- phases

interface ThroughputPhase {
  nodes: number;
  jobs: number;
  audioS: number;
  wallS: number;
  audioSPerWallS: number;
  audioSPerWallSPerNode: number;
  uploadRefusalsRetried: Record<string, number>;
  /** CPU the nodes' process trees used (servers, inference processes, ffmpeg), and PostgreSQL's. */
  nodeCpuS: number;
  postgresCpuS: number;
  /** The nodes' CPU over what the machine's cores could give in that wall time. */
  cpuBusy: number;
  /** Audio per CPU second of the nodes: flat as nodes are added = nobody waits on the store. */
  audioSPerNodeCpuS: number;
}

/** `count` jobs at once, spread over the first `n` nodes, no failures: audio seconds per wall second. */
async function throughput(n: number, clips: Clip[], callback: string): Promise<ThroughputPhase> {
  const nodePids = [...nodes.values()].filter((x) => x.index <= n).map((x) => x.pid);
  const postgresPid = Number((await readFile(join(clusterDir, 'postgres', 'data', 'postmaster.pid'), 'utf8').catch(() => '0')).split('\n')[0]);
  const cpu0 = treeCpuSeconds(nodePids);
  const pg0 = postgresPid > 0 ? treeCpuSeconds([postgresPid]) : 0;
  const start = Date.now();
  const accepted = await Promise.all(clips.map((c, i) => submit(c, (i % n) + 1, callback, n)));
  const states = await waitAll(accepted.map((x) => x.token), 900);
  const wallS = (Date.now() - start) / 1000;
  const notDone = [...states.values()].filter((s) => s !== 'COMPLETED').length;
  if (notDone > 0) throw new Error(`throughput phase (${n} nodes): ${notDone} jobs did not complete`);
  const audioS = clips.reduce((s, c) => s + c.durationS, 0);
  const nodeCpuS = treeCpuSeconds(nodePids) - cpu0;
  // Uploads refused and retried in this phase (a node's limit on uploads at once), then cleared
  // so the failure run counts its own.
  const retried = { ...refusals };
  for (const k of Object.keys(refusals)) delete refusals[k];
  const postgresCpuS = postgresPid > 0 ? treeCpuSeconds([postgresPid]) - pg0 : 0;
  return {
    uploadRefusalsRetried: retried,
    nodeCpuS: round(nodeCpuS, 1),
    postgresCpuS: round(postgresCpuS, 2),
    cpuBusy: round(nodeCpuS / (wallS * cpus().length), 2),
    audioSPerNodeCpuS: round(audioS / nodeCpuS, 2),
    nodes: n,
    jobs: clips.length,
    audioS: round(audioS, 1),
    wallS: round(wallS, 1),
    audioSPerWallS: round(audioS / wallS, 2),
    audioSPerWallSPerNode: round(audioS / wallS / n, 2),
  };
}

interface Kill {
  node: number;
  pid: number;
  atMs: number;
  atS: number;
  restartS: number | null;
  /** Jobs the killed process had started and not finished. */
  running: string[];
  /** Per running job: ms from the kill to its next start in another process, and that process's node (null: never). */
  takeovers: { ms: number; node: number; resumeAtMs: number }[];
  neverTakenOver: number;
  /** The jobs not started again after the kill: their end state, and `job completed` lines anywhere. */
  notTakenOver: { token: string; state: string; completedLines: number }[];
}

async function main(): Promise<void> {
  clusterDir = await mkdtemp(join(tmpdir(), 'sori-bench-cluster-'));
  await writeFile(join(clusterDir, 'sori.yaml'), `jobs:\n  leaseSeconds: ${LEASE_S}\n`);
  const httpPort = await freeRun(NODES);
  const grpcPort = await freeRun(NODES, Array.from({ length: NODES }, (_, i) => httpPort + i));
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SORI_')));
  env = {
    ...clean,
    SORI_CLUSTER_DIR: clusterDir,
    SORI_PORT: String(httpPort),
    SORI_GRPC_PORT: String(grpcPort),
    SORI_CLUSTER_S3_PORT: String(await freeRun(1, [httpPort, grpcPort])),
    SORI_API_KEY: API_KEY,
    SORI_MODELS_DIR: process.env.SORI_MODELS_DIR ?? modelsDir(),
    // One inference thread and greedy search per node: three nodes share two cores.
    SORI_THREADS: '1',
    SORI_BEAM_SIZE: '1',
    SORI_CONFIG: join(clusterDir, 'sori.yaml'),
    // The callback receiver listens on loopback.
    SORI_ALLOW_PRIVATE_URLS: 'true',
  };
  const receiver = await startCallbackReceiver();
  const pool = clipPool();
  if (pool.short.length === 0) throw new Error('no clips: set SORI_TESTDATA_DIR');
  const pickShort = () => pool.short[Math.floor(random() * pool.short.length)];
  const pickWeighted = weightedPicker(pool.all, random);
  const pick = () => pickWeighted().clip;
  let result: Record<string, unknown> = {};
  try {
    // 1. One node, then more, no failures: throughput per node.
    const tpClips = Array.from({ length: Number(a['throughput-jobs']) }, pickShort);
    const phases: ThroughputPhase[] = [];
    const tpNodes = [...new Set(a['throughput-nodes'].split(',').map(Number).filter((n) => n >= 1))].sort((x, y) => x - y);
    for (const n of tpNodes) {
      say(`cluster.sh up ${n} (dir ${clusterDir})`);
      parseNodeLines(await cluster('up', String(n)));
      const phase = await throughput(n, tpClips, receiver.url);
      phases.push(phase);
      say(`${n} node(s): ${phase.audioSPerWallS} audio s per wall s (${phase.audioSPerWallSPerNode} per node)`);
    }
    if (tpNodes.at(-1) !== NODES) {
      say(`cluster.sh up ${NODES}`);
      parseNodeLines(await cluster('up', String(NODES)));
    }
    const warmupTokens = new Set(receiver.records.map((r) => r.token));

    // 2. The failure run.
    say(`failure run: ${JOBS} jobs, a kill every ${KILL_EVERY_MS / 1000} s, lease ${LEASE_S} s`);
    const failureStart = Date.now();
    const accepted: Accepted[] = [];
    const kills: Kill[] = [];
    let pgRestart: { stopAtS: number; startAtS: number; downS: number } | null = null;
    let submitting = true;
    let stopKilling = false;
    let restartFailures = 0;
    const submitter = (async () => {
      const inflight: Promise<void>[] = [];
      for (let i = 0; i < JOBS; i++) {
        const clip = pick();
        inflight.push(submit(clip, (i % NODES) + 1, receiver.url).then((x) => void accepted.push(x)));
        await sleep(SUBMIT_EVERY_MS);
      }
      await Promise.all(inflight);
      submitting = false;
    })();
    const allEnded = () => !submitting && accepted.every((x) => receiver.records.some((r) => r.token === x.token));
    const killer = (async () => {
      let next = Date.now() + KILL_EVERY_MS;
      while (!allEnded() && !stopKilling) {
        if (Date.now() < next) {
          await sleep(250);
          continue;
        }
        next = Date.now() + KILL_EVERY_MS;
        // PostgreSQL once, a third of the way into the submissions.
        if (pgRestart === null && kills.length === 1) {
          const stopAt = Date.now();
          say('PostgreSQL: stop immediate');
          await run('bash', [POSTGRES_SH, 'stop', join(clusterDir, 'postgres'), 'immediate'], { env });
          await sleep(3000);
          await run('bash', [POSTGRES_SH, 'start', join(clusterDir, 'postgres')], { env });
          const startAt = Date.now();
          pgRestart = { stopAtS: round((stopAt - failureStart) / 1000, 1), startAtS: round((startAt - failureStart) / 1000, 1), downS: round((startAt - stopAt) / 1000, 1) };
          say(`PostgreSQL: back after ${pgRestart.downS} s`);
          continue;
        }
        const victim = 1 + Math.floor(random() * NODES);
        const node = nodes.get(victim)!;
        const killAt = Date.now();
        say(`kill node${victim} (pid ${node.pid})`);
        await cluster('kill', String(victim));
        const restartStart = Date.now();
        let restartS: number | null = null;
        for (let attempt = 1; restartS === null && attempt <= 5; attempt++) {
          try {
            parseNodeLines(await cluster('start', String(victim)));
            restartS = round((Date.now() - restartStart) / 1000, 1);
            say(`node${victim} back in ${restartS} s (pid ${nodes.get(victim)!.pid})`);
          } catch (err) {
            say(`node${victim} did not come back (try ${attempt}): ${(err as Error).message}`);
            restartFailures += 1;
            await sleep(2000);
          }
        }
        kills.push({ node: victim, pid: node.pid, atMs: killAt, atS: round((killAt - failureStart) / 1000, 1), restartS, running: [], takeovers: [], neverTakenOver: 0, notTakenOver: [] });
      }
    })();
    await submitter;
    say(`${accepted.length} jobs accepted; waiting for every one to end`);
    const states = await waitAll(accepted.map((x) => x.token), Number(a['drain-timeout']));
    const drainUntil = Date.now() + 120_000;
    while (!allEnded() && Date.now() < drainUntil) await sleep(1000);
    // Late repeats of a callback, if any, arrive now.
    await sleep(5000);
    stopKilling = true;
    await killer.catch((err: unknown) => say(`kill loop: ${(err as Error).message}`));
    const wallS = (Date.now() - failureStart) / 1000;

    // 3. The tally, from the callbacks, the store (GET) and the nodes' logs.
    const lines = await logLines();
    const tokens = new Set(accepted.map((x) => x.token));
    const byToken = new Map<string, CallbackRecord[]>();
    for (const r of receiver.records) {
      if (r.token === null || warmupTokens.has(r.token)) continue;
      byToken.set(r.token, [...(byToken.get(r.token) ?? []), r]);
    }
    const perJobCallbacks = accepted.map((x) => byToken.get(x.token)?.length ?? 0);
    const perJobDeliveryIds = accepted.map((x) => new Set((byToken.get(x.token) ?? []).map((r) => r.deliveryId ?? `none-${r.seq}`)).size);
    const repeats: { deliveryId: string; identical: boolean }[] = [];
    for (const x of accepted) {
      const seen = new Map<string, string>();
      for (const r of byToken.get(x.token) ?? []) {
        if (r.deliveryId === null) continue;
        const first = seen.get(r.deliveryId);
        if (first === undefined) seen.set(r.deliveryId, r.digest);
        else repeats.push({ deliveryId: r.deliveryId, identical: first === r.digest });
      }
    }
    const completedLog = new Map<string, number>();
    for (const l of lines) if (l.msg === 'job completed' && l.token) completedLog.set(l.token, (completedLog.get(l.token) ?? 0) + 1);
    const completedTwiceCallbacks = accepted.filter((x) => (byToken.get(x.token) ?? []).filter((r) => r.result === 'COMPLETED').length > 1).length;
    const completedTwiceStore = accepted.filter((x) => (completedLog.get(x.token) ?? 0) > 1).length;
    const completed = accepted.filter((x) => states.get(x.token) === 'COMPLETED').length;
    const failed = accepted.filter((x) => states.get(x.token) === 'FAILED' || states.get(x.token) === 'TIMEOUT').length;
    const lost = accepted.length - completed - failed;

    // Takeover: each job the killed process had started and not completed before the kill.
    for (const k of kills) {
      const started = new Map<string, number>();
      for (const l of lines) {
        if (!l.token || !tokens.has(l.token) || l.time > k.atMs) continue;
        if (l.msg === 'job started' && l.pid === k.pid) started.set(l.token, l.time);
        if ((l.msg === 'job completed' || l.msg === 'job failed') && started.has(l.token)) started.delete(l.token);
      }
      k.running = [...started.keys()];
      for (const t of k.running) {
        const next = lines.find((l) => l.token === t && l.msg === 'job started' && l.time > k.atMs && l.pid !== k.pid);
        if (next) k.takeovers.push({ ms: next.time - k.atMs, node: next.node, resumeAtMs: next.resumeAtMs ?? 0 });
        else {
          k.neverTakenOver += 1;
          k.notTakenOver.push({ token: t, state: states.get(t) ?? 'unknown', completedLines: completedLog.get(t) ?? 0 });
        }
      }
    }
    const takeovers = kills.flatMap((k) => k.takeovers.map((x) => x.ms));
    const neverTakenOver = kills.reduce((s, k) => s + k.neverTakenOver, 0);
    const byOther = kills.flatMap((k) => k.takeovers.filter((x) => x.node !== k.node).map((x) => x.ms));
    const byOtherNode = byOther.length;
    const audioS = accepted.reduce((s, x) => s + x.clip.durationS, 0);
    const resumedFromCheckpoint = lines.filter((l) => l.msg === 'job started' && l.token && tokens.has(l.token) && (l.resumeAtMs ?? 0) > 0).length;

    result = {
      bench: 'cluster',
      date: new Date().toISOString(),
      machine: machineInfo(),
      settings: { nodes: NODES, jobs: JOBS, killEveryS: KILL_EVERY_MS / 1000, submitEveryS: SUBMIT_EVERY_MS / 1000, leaseS: LEASE_S, threadsPerNode: 1, beamSize: 1, seed: Number(a.seed), clipsS: `${a['min-clip']}-${a['max-clip']}, 1 in ~8 the 3-min dialogue` },
      throughput: {
        cores: cpus().length,
        phases: phases.map((p) => ({ ...p, perNodeRatio: round(p.audioSPerWallSPerNode / phases[0].audioSPerWallSPerNode, 2), totalRatio: round(p.audioSPerWallS / phases[0].audioSPerWallS, 2) })),
      },
      failureRun: {
        wallS: round(wallS, 1),
        audioS: round(audioS, 1),
        audioSPerWallS: round(audioS / wallS, 2),
        uploadRefusalsRetried: refusals,
        jobs: { accepted: accepted.length, completed, failed, lost, completedTwiceCallbacks, completedTwiceStore, resumedFromCheckpoint },
        callbacks: {
          exactlyOnce: perJobCallbacks.filter((n) => n === 1).length,
          missing: perJobCallbacks.filter((n) => n === 0).length,
          moreThanOnce: perJobCallbacks.filter((n) => n > 1).length,
          /** The jobs called back more than once, to find in the nodes' logs (--keep). */
          moreThanOnceTokens: accepted.map((x) => x.token).filter((t) => (byToken.get(t)?.length ?? 0) > 1),
          forTokensNoClientWasGiven: [...byToken.keys()].filter((t) => !tokens.has(t)).length,
          /** Per job, deliveries counted once per X-Sori-Delivery-Id: what a receiver that drops repeats by that id sees. */
          byDeliveryId: {
            exactlyOnce: perJobDeliveryIds.filter((n) => n === 1).length,
            missing: perJobDeliveryIds.filter((n) => n === 0).length,
            moreThanOnce: perJobDeliveryIds.filter((n) => n > 1).length,
            /** Repeats of one delivery id (the at-least-once window), and whether each repeat carried the same result. */
            repeats: repeats.length,
            repeatsIdentical: repeats.filter((r) => r.identical).length,
            withoutDeliveryId: receiver.records.filter((r) => r.token !== null && tokens.has(r.token) && r.deliveryId === null).length,
          },
        },
        kills: kills.map(({ atMs: _atMs, ...k }) => k),
        takeover: {
          jobsRunningOnKilledNodes: takeovers.length + neverTakenOver,
          neverTakenOver,
          /** Taken over by one of the other nodes (the rest: by the killed node, started again). */
          byOtherNode,
          p50S: takeovers.length ? round(percentile(takeovers, 50) / 1000, 1) : null,
          maxS: takeovers.length ? round(Math.max(...takeovers) / 1000, 1) : null,
          otherNodeP50S: byOther.length ? round(percentile(byOther, 50) / 1000, 1) : null,
          otherNodeMaxS: byOther.length ? round(Math.max(...byOther) / 1000, 1) : null,
          leaseS: LEASE_S,
        },
        restartFailures,
        postgresRestart: pgRestart,
        lostDetail: accepted.filter((x) => states.get(x.token) !== 'COMPLETED').map((x) => ({ token: x.token, file: x.clip.file, state: states.get(x.token) ?? 'unknown' })),
      },
    };
  } finally {
    if (!a.keep) {
      await cluster('down').catch((err: unknown) => say(`down: ${(err as Error).message}`));
    }
    await receiver.close();
    if (Object.keys(result).length > 0) {
      const path = writeLatest('cluster', result);
      console.log(JSON.stringify(result, null, 2));
      say(`wrote ${path}`);
    }
    if (!a.keep) await rm(clusterDir, { recursive: true, force: true });
    else say(`kept ${clusterDir}`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
