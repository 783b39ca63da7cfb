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
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clip } from './manifest.js';
import { startCallbackReceiver, resultDigest, type CallbackReceiver } from './callback-receiver.js';
import { FINISHED, getJob, LONGFORM_LANG, uploadLongform, type LongformResultBody } from './longform-client.js';
import { corpusRates, scoreClip, type CorpusRate } from './score.js';
import { startServer, treeMemory, freePort, type ServerHandle } from './server-process.js';
import { log } from './progress.js';
import { percentile, round } from './stats.js';
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
  killMode: 'server' | 'group';
  /** A new upload about this often (ms, jittered), while fewer than `maxOutstanding` are unfinished. */
  submitEveryMs: number;
  maxOutstanding: number;
  drainTimeoutS: number;
  orphanWaitMs: number;
  /** Seeded so that a run can be repeated. */
  seed: number;
}

interface Accepted {
  token: string;
  clip: Clip;
  at: number;
  life: number;
}

export interface KillRecord {
  cycle: number;
  atS: number;
  /** Seconds the server had been healthy before the kill. */
  upS: number;
  /** Jobs GET said PROCESSING right before the kill. */
  processing: number;
  unfinished: number;
  children: { pid: number; role: string; goneMs: number | null }[];
  orphansKilled: number;
  restartS: number | null;
  restartError?: string;
}

export interface SoakResult {
  settings: Omit<SoakOptions, 'apiKey' | 'pool' | 'env'> & { pool: { file: string; durationS: number; weight: number }[]; env: Record<string, string> };
  wallS: number;
  kills: KillRecord[];
  submissions: { attempted: number; accepted: number; rejected: Record<string, number> };
  jobs: {
    accepted: number;
    completed: number;
    lost: number;
    lostDetail: { token: string; file: string; state: string; message?: string }[];
    completedTwice: number;
    completedTwiceDetail: { token: string; file: string; deliveryIds: string[]; digests: string[] }[];
    callbackExactlyOnce: number;
    callbackMissing: number;
    duplicateDeliveries: number;
    callbacksUnknownToken: number;
    callbacksTotal: number;
    getDiffersFromCallback: number;
    badSegmentOrder: number;
    resumedFromCheckpoint: number;
    startedMoreThanOnce: number;
    /** Files left in <dataDir>/media once every job ended (interrupted uploads, leaks). */
    mediaLeftBehind: string[];
    /** Every accepted job: final state, callbacks received, how often it was started (log), score. */
    perJob: { token: string; file: string; state: string; callbacks: number; starts: number; resumed: boolean; errors: number | null; length: number | null; rate: number | null }[];
    latencyP50S: number;
    latencyP95S: number;
    latencyMaxS: number;
  };
  accuracy: CorpusRate[];
  orphans: { childrenSeen: number; exitedOnTheirOwn: number; killedByBench: number; maxGoneMs: number | null };
  error?: string;
}

/** The engine's seeded PRNG (mulberry32), so a soak's schedule can be replayed. */
const rng = mulberry32;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Alive and not a zombie (a reparented child may linger as Z until init reaps it). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

export async function runSoak(o: SoakOptions): Promise<SoakResult> {
  const random = rng(o.seed);
  const t0 = Date.now();
  const dataDir = mkdtempSync(join(tmpdir(), 'sori-soak-'));
  const port = await freePort();
  const env = { ...o.env, SORI_ALLOW_PRIVATE_URLS: 'true' };
  const receiver: CallbackReceiver = await startCallbackReceiver();
  const accepted = new Map<string, Accepted>();
  const rejected: Record<string, number> = {};
  let attempted = 0;
  let life = 0;
  let server: ServerHandle | undefined;
  let baseUrl = `http://127.0.0.1:${port}`;
  const kills: KillRecord[] = [];
  let error: string | undefined;

  const start = async (): Promise<number> => {
    const s0 = performance.now();
    server = await startServer({
      apiKey: o.apiKey, modelsDir: o.modelsDir, env, entry: o.entry, logPath: o.logPath,
      dataDir, port, appendLog: life > 0, readyTimeoutMs: 180_000,
    });
    baseUrl = server.baseUrl;
    life += 1;
    return (performance.now() - s0) / 1000;
  };

  const callbacksFor = (token: string) => receiver.records.filter((r) => r.token === token);
  const unfinished = () => [...accepted.values()].filter((a) => callbacksFor(a.token).length === 0);

  const totalWeight = o.pool.reduce((s, p) => s + (p.weight ?? 1), 0);
  const pick = (): Clip => {
    let x = random() * totalWeight;
    for (const p of o.pool) {
      x -= p.weight ?? 1;
      if (x <= 0) return p.clip;
    }
    return o.pool[o.pool.length - 1].clip;
  };

  let submitting = true;
  const submitter = (async () => {
    while (submitting) {
      if (unfinished().length < o.maxOutstanding) {
        const clip = pick();
        attempted += 1;
        const r = await uploadLongform(baseUrl, o.apiKey, clip.path, {
          language: LONGFORM_LANG[clip.lang] ?? clip.lang,
          completion: 'async',
          callback: receiver.url,
        });
        const token = r.body?.token;
        if (r.status >= 200 && r.status < 300 && typeof token === 'string') {
          accepted.set(token, { token, clip, at: Date.now(), life });
        } else {
          const why = r.status === 0 ? `no answer: ${(r.error ?? '').replace(/^fetch failed ?/, '') || 'error'}` : `HTTP ${r.status} ${r.body?.result ?? ''}`.trim();
          rejected[why] = (rejected[why] ?? 0) + 1;
        }
      }
      await sleep(o.submitEveryMs * (0.5 + random()));
    }
  })();

  const statusOf = async (token: string): Promise<string> => (await getJob(baseUrl, o.apiKey, token)).body?.result ?? 'unreachable';

  try {
    log(`soak: starting the server (data dir ${dataDir})`);
    await start();
    log(`soak: server up on ${baseUrl}; callbacks to ${receiver.url}; ${o.cycles} kill cycles`);
    for (let cycle = 1; cycle <= o.cycles; cycle++) {
      const up0 = Date.now();
      const delay = o.killDelayS[0] + random() * (o.killDelayS[1] - o.killDelayS[0]);
      await sleep(delay * 1000);
      // "While jobs are running": give a job up to 20 s more to be PROCESSING.
      let processing = 0;
      const until = Date.now() + 20_000;
      for (;;) {
        const states = await Promise.all(unfinished().map((a) => statusOf(a.token)));
        processing = states.filter((s) => s === 'PROCESSING').length;
        if (processing > 0 || Date.now() > until) break;
        await sleep(250);
      }
      const srv = server as ServerHandle;
      const children = treeMemory(srv.pid).filter((p) => p.pid !== srv.pid);
      const exited = new Promise<void>((r) => (srv.child.exitCode !== null || srv.child.signalCode !== null ? r() : srv.child.once('exit', () => r())));
      const killAt = performance.now();
      process.kill(o.killMode === 'group' ? -srv.pid : srv.pid, 'SIGKILL');
      await exited;
      // Do the inference process and ffmpeg go away on their own?
      const goneMs = new Map<number, number>();
      while (performance.now() - killAt < o.orphanWaitMs && goneMs.size < children.length) {
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
      const rec: KillRecord = {
        cycle,
        atS: round((Date.now() - t0) / 1000, 1),
        upS: round((Date.now() - up0) / 1000, 1),
        processing,
        unfinished: unfinished().length,
        children: children.map((c) => ({ pid: c.pid, role: c.role, goneMs: goneMs.has(c.pid) ? Math.round(goneMs.get(c.pid) as number) : null })),
        orphansKilled,
        restartS: null,
      };
      kills.push(rec);
      log(
        `soak: kill ${cycle}/${o.cycles} after ${rec.upS} s up: ${processing} processing, ${rec.unfinished} unfinished; children ${rec.children
          .map((c) => `${c.role}:${c.goneMs === null ? 'LINGERED' : `${c.goneMs}ms`}`)
          .join(' ') || 'none'}`,
      );
      await sleep(random() * 2000);
      try {
        rec.restartS = round(await start(), 1);
      } catch (err) {
        rec.restartError = (err as Error).message.slice(0, 500);
        log(`soak: restart failed: ${rec.restartError}; retrying once`);
        rec.restartS = round(await start(), 1);
      }
    }
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
    log(`soak: ERROR ${error}`);
  }

  // Drain: no more uploads; every accepted job must finish and call back.
  submitting = false;
  await submitter;
  log(`soak: ${accepted.size} jobs accepted; draining (up to ${o.drainTimeoutS} s)`);
  const finalState = new Map<string, LongformResultBody | null>();
  const drainUntil = Date.now() + o.drainTimeoutS * 1000;
  if (server) {
    for (;;) {
      const pending = [...accepted.keys()].filter((t) => !FINISHED.has(finalState.get(t)?.result ?? '') || callbacksFor(t).length === 0);
      if (pending.length === 0 || Date.now() > drainUntil) break;
      for (const t of pending) {
        const r = await getJob(baseUrl, o.apiKey, t);
        finalState.set(t, r.body);
      }
      await sleep(2000);
    }
    // Late repeats of a callback would show up now.
    await sleep(5000);
    for (const t of accepted.keys()) if (!finalState.has(t) || !FINISHED.has(finalState.get(t)?.result ?? '')) finalState.set(t, (await getJob(baseUrl, o.apiKey, t)).body);
  }
  const wallS = (Date.now() - t0) / 1000;
  if (server) await server.stop();
  await receiver.close();

  // Tally.
  const byToken = receiver.byToken();
  const lostDetail: SoakResult['jobs']['lostDetail'] = [];
  const completedTwiceDetail: SoakResult['jobs']['completedTwiceDetail'] = [];
  let completed = 0;
  let exactlyOnce = 0;
  let missing = 0;
  let dupDeliveries = 0;
  let getDiffers = 0;
  let badOrder = 0;
  const latencies: number[] = [];
  const scores: { lang: string; score: ReturnType<typeof scoreClip> }[] = [];
  const perJob: SoakResult['jobs']['perJob'] = [];
  for (const a of accepted.values()) {
    const body = finalState.get(a.token) ?? null;
    const state = body?.result ?? 'unknown';
    if (state === 'COMPLETED') completed += 1;
    else lostDetail.push({ token: a.token, file: a.clip.file, state, message: body?.message });
    const cbs = byToken.get(a.token) ?? [];
    const ids = [...new Set(cbs.map((c) => c.deliveryId ?? '?'))];
    const digests = [...new Set(cbs.map((c) => c.digest))];
    dupDeliveries += cbs.length - ids.length;
    if (cbs.length === 0) missing += 1;
    if (cbs.length === 1) exactlyOnce += 1;
    if (ids.length > 1 || digests.length > 1) completedTwiceDetail.push({ token: a.token, file: a.clip.file, deliveryIds: ids, digests });
    if (body && cbs.length > 0 && !digests.includes(resultDigest(body))) getDiffers += 1;
    if (cbs.length > 0) latencies.push((cbs[0].at - a.at) / 1000);
    if (state === 'COMPLETED' && body) {
      const segs = body.segments ?? [];
      for (let i = 0; i < segs.length; i++) {
        if (segs[i].end < segs[i].start || (i > 0 && segs[i].start < segs[i - 1].end)) {
          badOrder += 1;
          break;
        }
      }
      const text = typeof body.text === 'string' ? body.text : segs.map((s) => s.text).join(' ');
      const score = scoreClip({ lang: a.clip.lang, reference: a.clip.reference, referenceSpelled: a.clip.referenceSpelled }, text);
      scores.push({ lang: a.clip.lang, score });
      perJob.push({ token: a.token, file: a.clip.file, state, callbacks: cbs.length, starts: 0, resumed: false, errors: score.errors, length: score.length, rate: round(score.rate, 4) });
    } else perJob.push({ token: a.token, file: a.clip.file, state, callbacks: cbs.length, starts: 0, resumed: false, errors: null, length: null, rate: null });
  }
  const unknownCallbacks = receiver.records.filter((r) => !accepted.has(r.token ?? '')).length;

  // Which jobs were resumed from a checkpoint, from the server's own log lines.
  let resumed = 0;
  let startedTwice = 0;
  if (existsSync(o.logPath)) {
    const starts = new Map<string, { n: number; resumed: boolean }>();
    for (const line of readFileSync(o.logPath, 'utf8').split('\n')) {
      if (!line.includes('"job started"')) continue;
      try {
        const j = JSON.parse(line) as { token?: string; resumeAtMs?: number };
        if (!j.token) continue;
        const s = starts.get(j.token) ?? { n: 0, resumed: false };
        s.n += 1;
        if ((j.resumeAtMs ?? 0) > 0) s.resumed = true;
        starts.set(j.token, s);
      } catch {
        /* not JSON */
      }
    }
    for (const [t, s] of starts) {
      if (!accepted.has(t)) continue;
      const pj = perJob.find((p) => p.token === t);
      if (pj) {
        pj.starts = s.n;
        pj.resumed = s.resumed;
      }
      if (s.resumed) resumed += 1;
      if (s.n > 1) startedTwice += 1;
    }
  }

  const kids = kills.flatMap((k) => k.children);
  const gone = kids.filter((c) => c.goneMs !== null);
  let mediaLeftBehind: string[] = [];
  try {
    mediaLeftBehind = readdirSync(join(dataDir, 'media'));
  } catch {
    /* no media dir */
  }
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
    submissions: { attempted, accepted: accepted.size, rejected },
    jobs: {
      accepted: accepted.size,
      completed,
      lost: lostDetail.length,
      lostDetail,
      completedTwice: completedTwiceDetail.length,
      completedTwiceDetail,
      callbackExactlyOnce: exactlyOnce,
      callbackMissing: missing,
      duplicateDeliveries: dupDeliveries,
      callbacksUnknownToken: unknownCallbacks,
      callbacksTotal: receiver.records.length,
      getDiffersFromCallback: getDiffers,
      badSegmentOrder: badOrder,
      resumedFromCheckpoint: resumed,
      startedMoreThanOnce: startedTwice,
      mediaLeftBehind,
      perJob,
      latencyP50S: round(percentile(latencies, 50), 1),
      latencyP95S: round(percentile(latencies, 95), 1),
      latencyMaxS: latencies.length ? round(Math.max(...latencies), 1) : NaN,
    },
    accuracy: corpusRates(scores),
    orphans: {
      childrenSeen: kids.length,
      exitedOnTheirOwn: gone.length,
      killedByBench: kills.reduce((s, k) => s + k.orphansKilled, 0),
      maxGoneMs: gone.length ? Math.max(...gone.map((c) => c.goneMs as number)) : null,
    },
    ...(error ? { error } : {}),
  };
}
