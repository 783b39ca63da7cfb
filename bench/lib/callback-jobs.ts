/**
 * The long-form side of a crash soak: a steady stream of async uploads with a callback URL (a
 * local receiver), each accepted token followed to its end, and the tally of what became of
 * them: completed, failed, never finished, completed twice, callbacks exactly once.
 *
 * Uploads go on whether the server is up or not (a real client does not know): one sent while
 * it is down fails to connect and was never accepted; one cut by a kill got no answer, though
 * the server may have stored it (its callback then arrives for a token the client never saw).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { clipFromEntry, type Clip, type ManifestEntry } from './manifest.js';
import { resultDigest, type CallbackReceiver } from './callback-receiver.js';
import { FINISHED, getJob, LONGFORM_LANG, uploadLongform, type LongformResultBody } from './longform-client.js';
import { corpusRates, scoreClip, type CorpusRate } from './score.js';
import { sleep, weightedPicker, type RestartableServer } from './crash-cycle.js';
import { percentile, round } from './stats.js';

/**
 * The soaks' upload pool: ko and en clips of 10-60 s with a reference, plus now and then the
 * 3-minute dialogue, long enough to be checkpointed mid-way and resumed.
 */
export function soakJobPool(manifest: readonly ManifestEntry[], testdata: string): { clip: Clip; weight: number }[] {
  const pool = manifest
    .filter((e) => (e.lang === 'ko' || e.lang === 'en') && !!e.reference && e.duration_s >= 10 && e.duration_s <= 60)
    .map((e) => ({ clip: clipFromEntry(e, testdata), weight: 1 }));
  const dialog = manifest.find((e) => e.file === 'ko/dialog_etts_lmy_kih_3min.flac');
  if (dialog) pool.push({ clip: clipFromEntry(dialog, testdata), weight: Math.max(1, Math.round(pool.length / 8)) });
  return pool;
}

export interface CallbackJobLoadOptions {
  server: RestartableServer;
  apiKey: string;
  receiver: CallbackReceiver;
  /** Clips submitted, picked at random (weighted by `weight`, default 1). */
  pool: { clip: Clip; weight?: number }[];
  random: () => number;
  /** A new upload about this often (ms, jittered x0.5-1.5), while fewer than `maxOutstanding` are unfinished. */
  submitEveryMs: number;
  maxOutstanding: number;
}

interface Accepted {
  token: string;
  clip: Clip;
  at: number;
  life: number;
}

/** An upload that got an answer no valid request should get (not 2xx, not a documented refusal). */
export interface UploadDefect {
  atS: number;
  file: string;
  status: number;
  body: string;
}

export interface CallbackJobTally {
  submissions: {
    attempted: number;
    accepted: number;
    /** Every refusal or failure by its kind: `no answer: <error>` or `HTTP <status> <result>`. */
    rejected: Record<string, number>;
    /** No answer because a kill cut the upload, or the server was down (expected). */
    cutByKill: number;
    /** 429 ERROR_TOO_MANY_JOBS / 503 ERROR_SERVER_BUSY (documented refusals under load). */
    busy: number;
    /** Any other answer, or no answer while the server was up and not killed. */
    defective: number;
    defects: UploadDefect[];
  };
  jobs: {
    accepted: number;
    completed: number;
    /** Ended FAILED or TIMEOUT. */
    failed: number;
    /** Not finished when the drain ended. */
    unfinished: number;
    /** Accepted and never COMPLETED (failed + unfinished). */
    lost: number;
    lostDetail: { token: string; file: string; state: string; message?: string }[];
    completedTwice: number;
    /**
     * Tokens finished more than once in any way: callback more than once, 2+ delivery ids,
     * differing callback bodies, or GET answering another result than the callback.
     */
    duplicated: number;
    completedTwiceDetail: { token: string; file: string; deliveryIds: string[]; digests: string[] }[];
    callbackExactlyOnce: number;
    callbackMissing: number;
    /** Tokens whose callback came more than once (same or another delivery id). */
    callbackMoreThanOnce: number;
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
}

export class CallbackJobLoad {
  private readonly accepted = new Map<string, Accepted>();
  private readonly rejected: Record<string, number> = {};
  private readonly defects: UploadDefect[] = [];
  private readonly finalState = new Map<string, LongformResultBody | null>();
  private attempted = 0;
  private cutByKill = 0;
  private busy = 0;
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly t0 = Date.now();
  private readonly pick: () => { clip: Clip };

  constructor(private readonly o: CallbackJobLoadOptions) {
    this.pick = weightedPicker(o.pool, o.random);
  }

  get acceptedCount(): number {
    return this.accepted.size;
  }

  /** Accepted jobs whose callback has not arrived yet. */
  unfinished(): Accepted[] {
    const seen = new Set(this.o.receiver.records.map((r) => r.token));
    return [...this.accepted.values()].filter((a) => !seen.has(a.token));
  }

  start(): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        if (this.unfinished().length < this.o.maxOutstanding) await this.submitOne();
        await sleep(this.o.submitEveryMs * (0.5 + this.o.random()));
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /** How many unfinished jobs GET says are PROCESSING now. */
  async processing(): Promise<number> {
    const states = await Promise.all(this.unfinished().map(async (a) => (await getJob(this.o.server.baseUrl, this.o.apiKey, a.token)).body?.result ?? 'unreachable'));
    return states.filter((s) => s === 'PROCESSING').length;
  }

  /** Waits up to `maxMs` for a job to be PROCESSING; resolves with how many are. */
  async waitForProcessing(maxMs: number): Promise<number> {
    const until = Date.now() + maxMs;
    for (;;) {
      const n = await this.processing();
      if (n > 0 || Date.now() > until) return n;
      await sleep(250);
    }
  }

  /**
   * Every accepted job must finish and call back: polls GET until all are finished with their
   * callback in, or `timeoutS` passes; then waits 5 s more for late repeats of a callback.
   */
  async drain(timeoutS: number): Promise<void> {
    const { server, apiKey, receiver } = this.o;
    const called = () => new Set(receiver.records.map((r) => r.token));
    const drainUntil = Date.now() + timeoutS * 1000;
    for (;;) {
      const c = called();
      const pending = [...this.accepted.keys()].filter((t) => !FINISHED.has(this.finalState.get(t)?.result ?? '') || !c.has(t));
      if (pending.length === 0 || Date.now() > drainUntil) break;
      for (const t of pending) {
        const r = await getJob(server.baseUrl, apiKey, t);
        this.finalState.set(t, r.body);
      }
      await sleep(2000);
    }
    await sleep(5000);
    for (const t of this.accepted.keys()) {
      if (!FINISHED.has(this.finalState.get(t)?.result ?? '')) this.finalState.set(t, (await getJob(server.baseUrl, apiKey, t)).body);
    }
  }

  private async submitOne(): Promise<void> {
    const { server, apiKey, receiver } = this.o;
    const { clip } = this.pick();
    this.attempted += 1;
    const life = server.life;
    const wasUp = server.up;
    const r = await uploadLongform(server.baseUrl, apiKey, clip.path, {
      language: LONGFORM_LANG[clip.lang] ?? clip.lang,
      completion: 'async',
      callback: receiver.url,
    });
    const token = r.body?.token;
    if (r.status >= 200 && r.status < 300 && typeof token === 'string') {
      this.accepted.set(token, { token, clip, at: Date.now(), life: server.life });
      return;
    }
    const why = r.status === 0 ? `no answer: ${(r.error ?? '').replace(/^fetch failed ?/, '') || 'error'}` : `HTTP ${r.status} ${r.body?.result ?? ''}`.trim();
    this.rejected[why] = (this.rejected[why] ?? 0) + 1;
    if (r.status === 0 && (!wasUp || !server.up || server.life !== life)) this.cutByKill += 1;
    else if ((r.status === 429 && r.body?.result === 'ERROR_TOO_MANY_JOBS') || (r.status === 503 && r.body?.result === 'ERROR_SERVER_BUSY')) this.busy += 1;
    else this.defects.push({ atS: round((Date.now() - this.t0) / 1000, 1), file: clip.file, status: r.status, body: (r.raw || r.error || '').slice(0, 300) });
  }

  /** What became of every accepted job; `logPath` is the server's log (job starts), `dataDir` its data dir. */
  tally(logPath: string, dataDir: string): CallbackJobTally {
    const { receiver } = this.o;
    const byToken = receiver.byToken();
    const lostDetail: CallbackJobTally['jobs']['lostDetail'] = [];
    const completedTwiceDetail: CallbackJobTally['jobs']['completedTwiceDetail'] = [];
    let completed = 0;
    let failed = 0;
    let unfinished = 0;
    let exactlyOnce = 0;
    let missing = 0;
    let moreThanOnce = 0;
    let dupDeliveries = 0;
    let getDiffers = 0;
    let duplicated = 0;
    let badOrder = 0;
    const latencies: number[] = [];
    const scores: { lang: string; score: ReturnType<typeof scoreClip> }[] = [];
    const perJob: CallbackJobTally['jobs']['perJob'] = [];
    for (const a of this.accepted.values()) {
      const body = this.finalState.get(a.token) ?? null;
      const state = body?.result ?? 'unknown';
      if (state === 'COMPLETED') completed += 1;
      else {
        if (FINISHED.has(state)) failed += 1;
        else unfinished += 1;
        lostDetail.push({ token: a.token, file: a.clip.file, state, message: body?.message });
      }
      const cbs = byToken.get(a.token) ?? [];
      const ids = [...new Set(cbs.map((c) => c.deliveryId ?? '?'))];
      const digests = [...new Set(cbs.map((c) => c.digest))];
      dupDeliveries += cbs.length - ids.length;
      if (cbs.length === 0) missing += 1;
      if (cbs.length === 1) exactlyOnce += 1;
      if (cbs.length > 1) moreThanOnce += 1;
      if (ids.length > 1 || digests.length > 1) completedTwiceDetail.push({ token: a.token, file: a.clip.file, deliveryIds: ids, digests });
      const differs = !!body && FINISHED.has(state) && cbs.length > 0 && !digests.includes(resultDigest(body));
      if (differs) getDiffers += 1;
      if (cbs.length > 1 || ids.length > 1 || digests.length > 1 || differs) duplicated += 1;
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
    const unknownCallbacks = receiver.records.filter((r) => !this.accepted.has(r.token ?? '')).length;

    // Which jobs were resumed from a checkpoint, from the server's own log lines.
    let resumed = 0;
    let startedTwice = 0;
    if (existsSync(logPath)) {
      const starts = new Map<string, { n: number; resumed: boolean }>();
      for (const line of readFileSync(logPath, 'utf8').split('\n')) {
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
        if (!this.accepted.has(t)) continue;
        const pj = perJob.find((p) => p.token === t);
        if (pj) {
          pj.starts = s.n;
          pj.resumed = s.resumed;
        }
        if (s.resumed) resumed += 1;
        if (s.n > 1) startedTwice += 1;
      }
    }

    let mediaLeftBehind: string[] = [];
    try {
      mediaLeftBehind = readdirSync(join(dataDir, 'media'));
    } catch {
      /* no media dir */
    }
    return {
      submissions: {
        attempted: this.attempted,
        accepted: this.accepted.size,
        rejected: this.rejected,
        cutByKill: this.cutByKill,
        busy: this.busy,
        defective: this.defects.length,
        defects: this.defects.slice(0, 20),
      },
      jobs: {
        accepted: this.accepted.size,
        completed,
        failed,
        unfinished,
        lost: lostDetail.length,
        lostDetail,
        completedTwice: completedTwiceDetail.length,
        duplicated,
        completedTwiceDetail,
        callbackExactlyOnce: exactlyOnce,
        callbackMissing: missing,
        callbackMoreThanOnce: moreThanOnce,
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
    };
  }
}
