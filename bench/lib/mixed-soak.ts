/**
 * Crash soak under mixed load (issue 18): the real server (a child process, its own data dir
 * kept across restarts) under a steady mix of
 *   - async long-form uploads with a callback URL (a local receiver),
 *   - short `POST /recog/v1/stt` requests,
 *   - live streams at real-time pace, gRPC NestService and the WebSocket route in turn,
 * SIGKILLed `cycles` times at random moments (seeded) and restarted each time on the same ports
 * and data dir. Then every accepted job must finish, once, with its callback delivered once.
 *
 *   const r = await runMixedSoak({ cycles: 50, seed: 1 });
 *   console.log(formatMixedSoak(r));          // tables; r.checks: PASS/FAIL per invariant
 *
 * How failures are told apart: a client records the server's `life` (starts so far) when it
 * begins. A connection error that comes while the server is down or after it was killed in that
 * life is the kill's doing (`cut`, expected). Anything else not documented is a defect: a
 * connection error while the server is up, a 5xx (or any non-2xx) answer to a valid request, a
 * stream closed without its end. A documented refusal under load (short 503 STT007, long-form
 * 429/503) is counted apart as `busy`.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeFile } from '../../src/media/decode.js';
import { mulberry32 } from '../../src/speech/whisper/search.js';
import { startCallbackReceiver } from './callback-receiver.js';
import { CallbackJobLoad, soakJobPool, type CallbackJobTally } from './callback-jobs.js';
import { Bodies, CLOVA_LANG, recognise } from './client.js';
import { describeChildren, orphanTotals, RestartableServer, runKillCycles, sleep, type KillMode, type KillRecord } from './crash-cycle.js';
import { loadManifest, manifestPath, selectClips, type Clip } from './manifest.js';
import { machineInfo, type Check } from './output.js';
import { modelsDir as defaultModelsDir, OUT_DIR, testdataDir as defaultTestdataDir } from './paths.js';
import { log as progressLog } from './progress.js';
import { corpusRates, scoreClip, type CorpusRate } from './score.js';
import { freePort, treeMemory } from './server-process.js';
import { streamClip, streamClipWs, toPcm16, type StreamRun } from './stream-client.js';
import { percentile, round } from './stats.js';
import { formatTable, pct } from './table.js';

export interface MixedSoakOptions {
  /** SIGKILL + restart cycles. */
  cycles: number;
  /** Seed of every random choice (kill moments, clips, gaps): a run can be replayed. */
  seed: number;
  /** Default: SORI_MODELS_DIR or ../shared/models. */
  modelsDir?: string;
  /** Default: SORI_TESTDATA_DIR or ../shared/testdata. */
  testdataDir?: string;
  /** Server entry point, repo-relative (default src/main.ts, through tsx). */
  entry?: string;
  /** Server log, appended across restarts (default .bench/hardening-soak-server.log). */
  logPath?: string;
  /** Extra SORI_* settings (default: 2 threads, beam 1; SORI_GRPC_PORT and callbacks to 127.0.0.1 are set here). */
  env?: Record<string, string>;
  /** `server` (default): SIGKILL the server process only and check that its children exit on their own; `group`: the whole process group. */
  killMode?: KillMode;
  /** Random wait after the server is healthy before a kill, seconds (default [3, 25]). */
  killDelayS?: [number, number];
  /** After that wait, up to this long more for a long-form job to be PROCESSING (default 10; 0: kill at once). */
  waitForJobS?: number;
  /** Async uploads with a callback: one about every `submitEveryMs` (default 4000) while fewer than `maxOutstanding` (4) are unfinished. */
  longform?: { submitEveryMs?: number; maxOutstanding?: number };
  /** `clients` (default 1) loops of one short request, then a pause in `gapMs` (default [500, 3000]). */
  short?: { clients?: number; gapMs?: [number, number] };
  /** Loops of one stream at real-time pace then a pause: `grpc` (default 1) and `websocket` (1) of them. */
  streams?: { grpc?: number; websocket?: number; gapMs?: [number, number] };
  /** Bound on the wait for every accepted job to finish at the end (default 900 s). */
  drainTimeoutS?: number;
  /** How long the killed server's children get to exit on their own (default 5000 ms). */
  orphanWaitMs?: number;
  /** Progress lines (default: stderr with a time stamp). */
  log?: (line: string) => void;
}

export type MixedKillRecord = KillRecord<{
  /** Long-form jobs GET said PROCESSING right before the kill. */
  jobsProcessing: number;
  jobsUnfinished: number;
  shortInFlight: number;
  streamsInFlight: number;
}>;

/** A request or stream that came back with something no valid client should see. */
export interface Defect {
  atS: number;
  life: number;
  kind: 'short' | 'grpc' | 'websocket';
  file: string;
  status: number | null;
  detail: string;
}

export interface ShortTally {
  attempted: number;
  /** 200 with a text. */
  ok: number;
  /** No answer: the server was killed while it ran, or was down (expected). */
  cut: number;
  /** 503 STT007, the documented refusal when the engine queue is full. */
  busy: number;
  /** Anything else: another status, or no answer while the server was up. */
  defective: number;
  /** 200 whose text differs from the first text the same clip got (the engine is deterministic). */
  textChanged: number;
  textChangedDetail: { file: string; first: string; now: string }[];
  latencyP50S: number;
  latencyP95S: number;
  accuracy: CorpusRate[];
}

export interface StreamTally {
  attempted: number;
  byTransport: Record<'grpc' | 'websocket', { ok: number; cut: number; defective: number }>;
  /** Ended normally (gRPC end / WebSocket close 1000 after `end`). */
  ok: number;
  /** Ended by a kill or opened while the server was down (expected). */
  cut: number;
  /** Ended otherwise while the server was up. */
  defective: number;
  /** Finished streams without the endPoint final that `epFlag:true` asks for. */
  noEndPointFinal: number;
  /** Finished streams with no text at all (every clip has speech). */
  emptyText: number;
  epLatencyP50Ms: number;
  epLatencyP95Ms: number;
  accuracy: CorpusRate[];
}

export interface MixedSoakResult {
  kind: 'sori-mixed-soak';
  date: string;
  machine: Record<string, unknown>;
  settings: {
    cycles: number; seed: number; killMode: KillMode; killDelayS: [number, number]; waitForJobS: number;
    longform: { submitEveryMs: number; maxOutstanding: number; pool: number };
    short: { clients: number; gapMs: [number, number]; pool: number };
    streams: { grpc: number; websocket: number; gapMs: [number, number]; pool: number };
    drainTimeoutS: number; orphanWaitMs: number; entry: string; logPath: string; env: Record<string, string>;
  };
  wallS: number;
  /** The figures of issue 18 in one place. */
  summary: {
    cycles: number;
    /** `failedBy`: failed jobs by their message (the crash-loop guard's: "processing stopped N times without making progress"). */
    jobs: { accepted: number; completed: number; failed: number; failedBy: Record<string, number>; lost: number; duplicated: number };
    callbacks: { total: number; exactlyOnce: number; missing: number; moreThanOnce: number; unknownToken: number };
    uploads: { attempted: number; accepted: number; cut: number; busy: number; defective: number };
    short: { ok: number; cut: number; busy: number; defective: number; textChanged: number };
    streams: { ok: number; cut: number; defective: number };
    orphans: { childrenSeen: number; exitedOnTheirOwn: number; killedByBench: number; maxGoneMs: number | null };
    /** Largest resident set of the server process (VmHWM) and of its whole tree (sampled each second), MB. */
    peakRssMb: { server: number | null; tree: number | null };
    restarts: { ok: number; failed: number; p50S: number; maxS: number };
    wallS: number;
  };
  kills: MixedKillRecord[];
  longform: CallbackJobTally;
  short: ShortTally;
  streams: StreamTally;
  memory: { peakServerMb: number | null; peakTreeMb: number | null; peakByRoleMb: Record<string, number>; samples: number };
  /** Sori's entries (`sori-*`) left in the server's TMPDIR once it stopped: temp files of requests a kill cut. */
  tempLeftBehind: string[];
  /** Other entries left there, by name pattern (digits as N): libraries' and tsx's. */
  tempOther: Record<string, number>;
  defects: Defect[];
  checks: Check[];
  error?: string;
}

const STREAM_LANGS = new Set(['ko', 'en', 'ja']);

/** Short requests and streams in loops while the soak runs; each waits for the server to be up before it starts. */
class LoadLoops {
  private running = true;
  private readonly loops: Promise<void>[] = [];
  inFlight = 0;

  constructor(private readonly server: RestartableServer) {}

  /** `n` loops of `once`, each followed by a pause drawn from `gapMs`. */
  add(n: number, gapMs: [number, number], random: () => number, once: () => Promise<void>): void {
    for (let i = 0; i < n; i++) {
      this.loops.push(
        (async () => {
          while (this.running) {
            if (!this.server.up) {
              await sleep(100);
              continue;
            }
            this.inFlight += 1;
            try {
              await once();
            } finally {
              this.inFlight -= 1;
            }
            await sleep(gapMs[0] + random() * (gapMs[1] - gapMs[0]));
          }
        })(),
      );
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }
}

export async function runMixedSoak(opts: MixedSoakOptions): Promise<MixedSoakResult> {
  const o = {
    cycles: opts.cycles,
    modelsDir: opts.modelsDir ?? defaultModelsDir(),
    testdataDir: opts.testdataDir ?? defaultTestdataDir(),
    entry: opts.entry ?? 'src/main.ts',
    logPath: opts.logPath ?? join(OUT_DIR, 'hardening-soak-server.log'),
    killMode: opts.killMode ?? 'server',
    killDelayS: opts.killDelayS ?? [3, 25],
    waitForJobS: opts.waitForJobS ?? 10,
    submitEveryMs: opts.longform?.submitEveryMs ?? 4000,
    maxOutstanding: opts.longform?.maxOutstanding ?? 4,
    shortClients: opts.short?.clients ?? 1,
    shortGapMs: opts.short?.gapMs ?? [500, 3000],
    grpcStreams: opts.streams?.grpc ?? 1,
    wsStreams: opts.streams?.websocket ?? 1,
    streamGapMs: opts.streams?.gapMs ?? [500, 2500],
    drainTimeoutS: opts.drainTimeoutS ?? 900,
    orphanWaitMs: opts.orphanWaitMs ?? 5000,
    log: opts.log ?? ((line: string) => progressLog(`mixed soak: ${line}`)),
  } as const;
  const log = o.log;
  const t0 = Date.now();
  // One generator per concern, all from the seed: the kill schedule does not shift when a load
  // makes one more or one fewer choice.
  const seeded = (k: number) => mulberry32((opts.seed * 7919 + k) >>> 0);
  const killRandom = seeded(1);

  // Clips: long-form uploads as the long-form soak; short requests up to 15 s in every
  // language; streams of 3-12 s in the languages streams take.
  const manifest = loadManifest(manifestPath(o.testdataDir));
  const jobPool = soakJobPool(manifest, o.testdataDir);
  const shortPool = selectClips(manifest, o.testdataDir, { tag: 'quick', maxS: 15 }).filter((c) => CLOVA_LANG[c.lang] !== undefined && c.durationS >= 2);
  const streamPool = selectClips(manifest, o.testdataDir, { tag: 'quick', maxS: 12 }).filter((c) => STREAM_LANGS.has(c.lang) && c.durationS >= 3);
  if (jobPool.length === 0 || shortPool.length === 0 || streamPool.length === 0) throw new Error(`no clips for the soak in ${o.testdataDir}`);
  log(`decoding ${streamPool.length} stream clips to PCM`);
  const pcm = new Map<string, Buffer>();
  for (const c of streamPool) pcm.set(c.path, toPcm16((await decodeFile(c.path)).pcm));

  const apiKey = `soak-${randomBytes(8).toString('hex')}`;
  const grpcPort = await freePort();
  const env: Record<string, string> = { SORI_THREADS: '2', SORI_BEAM_SIZE: '1', SORI_LOG_LEVEL: 'info', ...opts.env, SORI_GRPC_PORT: String(grpcPort), SORI_ALLOW_PRIVATE_URLS: 'true' };
  const dataDir = mkdtempSync(join(tmpdir(), 'sori-mixed-soak-'));
  // The server's own temp dir (short requests' bodies go through temp files for ffmpeg): what a
  // kill leaves there is counted at the end, apart from other processes on the machine.
  const serverTmp = join(dataDir, 'tmp');
  mkdirSync(serverTmp);
  env.TMPDIR = serverTmp;
  const server = new RestartableServer({ apiKey, modelsDir: o.modelsDir, env, entry: o.entry, logPath: o.logPath, dataDir, port: await freePort() });
  const receiver = await startCallbackReceiver();
  const jobs = new CallbackJobLoad({ server, apiKey, receiver, pool: jobPool, random: seeded(2), submitEveryMs: o.submitEveryMs, maxOutstanding: o.maxOutstanding });
  const defects: Defect[] = [];
  const sinceS = () => round((Date.now() - t0) / 1000, 1);
  /** Did the kill (or the server being down) end this client's exchange? */
  const cutByKill = (life: number) => !server.up || server.life !== life;

  // Short requests.
  const shortRandom = seeded(3);
  const bodies = new Bodies();
  const shortT = { attempted: 0, ok: 0, cut: 0, busy: 0, defective: 0 };
  const shortFirst = new Map<string, string>();
  const shortChanged: ShortTally['textChangedDetail'] = [];
  const shortLatency: number[] = [];
  const shortScores: { lang: string; score: ReturnType<typeof scoreClip> }[] = [];
  const shortLoops = new LoadLoops(server);
  const shortInFlight = { n: 0 };
  const oneShort = async (): Promise<void> => {
    const clip = shortPool[Math.floor(shortRandom() * shortPool.length)];
    const life = server.life;
    shortT.attempted += 1;
    shortInFlight.n += 1;
    const r = await recognise(server.baseUrl, apiKey, clip, bodies.get(clip)).finally(() => (shortInFlight.n -= 1));
    if (r.status === 200 && r.text !== null) {
      shortT.ok += 1;
      shortLatency.push(r.latencyS);
      const first = shortFirst.get(clip.file);
      if (first === undefined) {
        shortFirst.set(clip.file, r.text);
        shortScores.push({ lang: clip.lang, score: scoreClip(clip, r.text) });
      } else if (first !== r.text) shortChanged.push({ file: clip.file, first, now: r.text });
    } else if (r.status === 0 && cutByKill(life)) shortT.cut += 1;
    else if (r.status === 503 && /STT007/.test(r.error ?? '')) shortT.busy += 1;
    else {
      shortT.defective += 1;
      defects.push({ atS: sinceS(), life, kind: 'short', file: clip.file, status: r.status, detail: (r.error ?? '').slice(0, 300) });
    }
  };

  // Live streams, gRPC and WebSocket.
  const streamRandom = seeded(4);
  const streamT = { grpc: { ok: 0, cut: 0, defective: 0 }, websocket: { ok: 0, cut: 0, defective: 0 } };
  let streamsAttempted = 0;
  let noEndPoint = 0;
  let emptyText = 0;
  const epLatency: number[] = [];
  const streamScores: { lang: string; score: ReturnType<typeof scoreClip> }[] = [];
  const streamLoops = new LoadLoops(server);
  const oneStream = (transport: 'grpc' | 'websocket') => async (): Promise<void> => {
    const clip: Clip = streamPool[Math.floor(streamRandom() * streamPool.length)];
    const life = server.life;
    streamsAttempted += 1;
    const audio = pcm.get(clip.path) as Buffer;
    let run: StreamRun;
    try {
      run = transport === 'grpc' ? await streamClip(`127.0.0.1:${grpcPort}`, apiKey, audio, clip.lang) : await streamClipWs(server.baseUrl, apiKey, audio, clip.lang);
    } catch (err) {
      run = { text: '', epLatencyMs: null, gapLagMs: [], speechLagMs: [], partials: 0, finals: 0, error: `client threw: ${(err as Error).message}` };
    }
    const t = streamT[transport];
    if (run.error === null) {
      t.ok += 1;
      if (run.epLatencyMs === null) noEndPoint += 1;
      else epLatency.push(run.epLatencyMs);
      if (run.text.trim() === '') emptyText += 1;
      streamScores.push({ lang: clip.lang, score: scoreClip(clip, run.text) });
    } else if (cutByKill(life)) t.cut += 1;
    else {
      t.defective += 1;
      defects.push({ atS: sinceS(), life, kind: transport, file: clip.file, status: null, detail: run.error.slice(0, 300) });
    }
  };

  // Memory: the server process's VmHWM and the whole tree's current RSS, every second.
  const memory = { peakServerMb: 0, peakTreeMb: 0, peakByRoleMb: {} as Record<string, number>, samples: 0 };
  const sampler = setInterval(() => {
    const pid = server.handle?.pid;
    if (pid === undefined) return;
    const tree = treeMemory(pid);
    if (tree.length === 0) return;
    memory.samples += 1;
    let sum = 0;
    for (const p of tree) {
      if (!Number.isFinite(p.rssMb)) continue;
      sum += p.rssMb;
      memory.peakByRoleMb[p.role] = Math.max(memory.peakByRoleMb[p.role] ?? 0, p.rssMb);
      if (p.role === 'server' && Number.isFinite(p.peakMb)) memory.peakServerMb = Math.max(memory.peakServerMb, p.peakMb);
    }
    memory.peakTreeMb = Math.max(memory.peakTreeMb, sum);
  }, 1000);

  const kills: MixedKillRecord[] = [];
  let error: string | undefined;
  try {
    log(`starting the server (data dir ${dataDir}, HTTP ${server.port}, gRPC ${grpcPort}, log ${o.logPath})`);
    await server.start();
    log(`server up; ${o.cycles} kill cycles, seed ${opts.seed}; load: uploads every ~${o.submitEveryMs} ms (<= ${o.maxOutstanding} unfinished), ${o.shortClients} short client(s), ${o.grpcStreams} gRPC + ${o.wsStreams} WebSocket stream(s)`);
    jobs.start();
    shortLoops.add(o.shortClients, o.shortGapMs, shortRandom, oneShort);
    streamLoops.add(o.grpcStreams, o.streamGapMs, streamRandom, oneStream('grpc'));
    streamLoops.add(o.wsStreams, o.streamGapMs, streamRandom, oneStream('websocket'));
    await runKillCycles(server, {
      cycles: o.cycles, killDelayS: o.killDelayS, killMode: o.killMode, orphanWaitMs: o.orphanWaitMs, random: killRandom, t0,
      beforeKill: async () => ({
        jobsProcessing: o.waitForJobS > 0 ? await jobs.waitForProcessing(o.waitForJobS * 1000) : await jobs.processing(),
        jobsUnfinished: jobs.unfinished().length,
        shortInFlight: shortInFlight.n,
        streamsInFlight: streamLoops.inFlight,
      }),
      describe: (r, cycles) =>
        `kill ${r.cycle}/${cycles} after ${r.upS} s up: jobs ${r.jobsProcessing} processing / ${r.jobsUnfinished} unfinished, ${r.shortInFlight} short and ${r.streamsInFlight} streams in flight; children ${describeChildren(r.children)}`,
      log,
    }, kills);
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
    log(`ERROR ${error}`);
  }

  // The end: no new work; what is in flight finishes; every accepted job must finish and call back.
  await jobs.stop();
  await Promise.all([shortLoops.stop(), streamLoops.stop()]);
  log(`${jobs.acceptedCount} jobs accepted; draining (up to ${o.drainTimeoutS} s)`);
  if (!server.up) await server.start().catch((err: unknown) => log(`no server to drain on: ${(err as Error).message.slice(0, 300)}`));
  if (server.up) await jobs.drain(o.drainTimeoutS);
  const wallS = round((Date.now() - t0) / 1000, 1);
  clearInterval(sampler);
  await server.stop();
  await receiver.close();
  const longform = jobs.tally(o.logPath, dataDir);
  // Sori's own temp files apart from those of its libraries and of tsx (onnxruntime leaves an
  // empty mat-debug-<pid>.log per process whether it is killed or not; tsx keeps a cache).
  const tempEntries = readdirSync(serverTmp);
  const tempLeftBehind = tempEntries.filter((n) => n.startsWith('sori-'));
  const tempOther: Record<string, number> = {};
  for (const n of tempEntries.filter((e) => !e.startsWith('sori-'))) {
    const pattern = n.replace(/\d+/g, 'N');
    tempOther[pattern] = (tempOther[pattern] ?? 0) + 1;
  }
  rmSync(dataDir, { recursive: true, force: true });

  const short: ShortTally = {
    ...shortT,
    textChanged: shortChanged.length,
    textChangedDetail: shortChanged.slice(0, 20),
    latencyP50S: round(percentile(shortLatency, 50), 2),
    latencyP95S: round(percentile(shortLatency, 95), 2),
    accuracy: corpusRates(shortScores),
  };
  const streams: StreamTally = {
    attempted: streamsAttempted,
    byTransport: streamT,
    ok: streamT.grpc.ok + streamT.websocket.ok,
    cut: streamT.grpc.cut + streamT.websocket.cut,
    defective: streamT.grpc.defective + streamT.websocket.defective,
    noEndPointFinal: noEndPoint,
    emptyText,
    epLatencyP50Ms: Math.round(percentile(epLatency, 50)),
    epLatencyP95Ms: Math.round(percentile(epLatency, 95)),
    accuracy: corpusRates(streamScores),
  };
  const restarts = kills.map((k) => k.restartS).filter((x): x is number => x !== null);
  const j = longform.jobs;
  const s = longform.submissions;
  const result: MixedSoakResult = {
    kind: 'sori-mixed-soak',
    date: new Date(t0).toISOString(),
    machine: machineInfo(),
    settings: {
      cycles: opts.cycles, seed: opts.seed, killMode: o.killMode, killDelayS: o.killDelayS, waitForJobS: o.waitForJobS,
      longform: { submitEveryMs: o.submitEveryMs, maxOutstanding: o.maxOutstanding, pool: jobPool.length },
      short: { clients: o.shortClients, gapMs: o.shortGapMs, pool: shortPool.length },
      streams: { grpc: o.grpcStreams, websocket: o.wsStreams, gapMs: o.streamGapMs, pool: streamPool.length },
      drainTimeoutS: o.drainTimeoutS, orphanWaitMs: o.orphanWaitMs, entry: o.entry, logPath: o.logPath, env,
    },
    wallS,
    summary: {
      cycles: kills.length,
      jobs: { accepted: j.accepted, completed: j.completed, failed: j.failed, failedBy: failedBy(j.lostDetail), lost: j.unfinished, duplicated: j.duplicated },
      callbacks: { total: j.callbacksTotal, exactlyOnce: j.callbackExactlyOnce, missing: j.callbackMissing, moreThanOnce: j.callbackMoreThanOnce, unknownToken: j.callbacksUnknownToken },
      uploads: { attempted: s.attempted, accepted: s.accepted, cut: s.cutByKill, busy: s.busy, defective: s.defective },
      short: { ok: short.ok, cut: short.cut, busy: short.busy, defective: short.defective, textChanged: short.textChanged },
      streams: { ok: streams.ok, cut: streams.cut, defective: streams.defective },
      orphans: orphanTotals(kills),
      peakRssMb: { server: memory.peakServerMb ? Math.round(memory.peakServerMb) : null, tree: memory.peakTreeMb ? Math.round(memory.peakTreeMb) : null },
      restarts: {
        ok: restarts.length,
        failed: kills.filter((k) => k.restartError !== undefined).length,
        p50S: round(percentile(restarts, 50), 1),
        maxS: restarts.length ? Math.max(...restarts) : NaN,
      },
      wallS,
    },
    kills,
    longform,
    short,
    streams,
    memory: {
      peakServerMb: memory.peakServerMb ? round(memory.peakServerMb, 0) : null,
      peakTreeMb: memory.peakTreeMb ? round(memory.peakTreeMb, 0) : null,
      peakByRoleMb: Object.fromEntries(Object.entries(memory.peakByRoleMb).map(([k, v]) => [k, round(v, 0)])),
      samples: memory.samples,
    },
    tempLeftBehind,
    tempOther,
    defects: defects.slice(0, 50),
    checks: [],
    ...(error ? { error } : {}),
  };
  result.checks = mixedSoakChecks(result);
  return result;
}

/** Failed jobs (finished, not COMPLETED) counted by message. */
function failedBy(detail: CallbackJobTally['jobs']['lostDetail']): Record<string, number> {
  const out: Record<string, number> = {};
  for (const d of detail) {
    if (d.state !== 'FAILED' && d.state !== 'TIMEOUT') continue;
    const why = `${d.state}: ${d.message ?? ''}`;
    out[why] = (out[why] ?? 0) + 1;
  }
  return out;
}

/** The invariants of the soak, each against its target. */
export function mixedSoakChecks(r: MixedSoakResult): Check[] {
  const m = r.summary;
  const pass = (ok: boolean): Check['status'] => (ok ? 'PASS' : 'FAIL');
  const checks: Check[] = [
    { name: 'kill cycles done', value: `${m.cycles}/${r.settings.cycles}`, target: String(r.settings.cycles), status: pass(m.cycles === r.settings.cycles && m.restarts.failed === 0) },
    { name: 'jobs accepted / completed', value: `${m.jobs.accepted} / ${m.jobs.completed}`, target: 'all', status: pass(m.jobs.accepted > 0 && m.jobs.completed === m.jobs.accepted) },
    { name: 'jobs lost (never finished)', value: String(m.jobs.lost), target: '0', status: pass(m.jobs.lost === 0) },
    {
      name: 'jobs failed (FAILED / TIMEOUT)',
      value: `${m.jobs.failed}${m.jobs.failed ? ` (${Object.entries(m.jobs.failedBy).map(([k, v]) => `${v}x ${k.slice(0, 70)}`).join('; ')})` : ''}`,
      target: '0',
      status: pass(m.jobs.failed === 0),
    },
    { name: 'jobs completed twice (2+ callbacks, differing results)', value: String(m.jobs.duplicated), target: '0', status: pass(m.jobs.duplicated === 0) },
    { name: 'callbacks exactly once', value: `${m.callbacks.exactlyOnce}/${m.jobs.accepted} (missing ${m.callbacks.missing}, more than once ${m.callbacks.moreThanOnce})`, target: 'all', status: pass(m.jobs.accepted > 0 && m.callbacks.exactlyOnce === m.jobs.accepted) },
    { name: 'uploads answered with a defect', value: String(m.uploads.defective), target: '0', status: pass(m.uploads.defective === 0) },
    { name: 'short requests ok / cut by a kill / busy', value: `${m.short.ok} / ${m.short.cut} / ${m.short.busy}`, target: 'ok > 0', status: pass(m.short.ok > 0) },
    { name: 'short requests defective (not a kill: 5xx, no answer while up)', value: String(m.short.defective), target: '0', status: pass(m.short.defective === 0) },
    { name: 'short answers differing from the same clip\'s first', value: String(m.short.textChanged), target: '0', status: pass(m.short.textChanged === 0) },
    { name: 'streams finished / cut by a kill', value: `${m.streams.ok} / ${m.streams.cut}`, target: 'ok > 0', status: pass(m.streams.ok > 0) },
    { name: 'streams defective (ended badly while the server was up)', value: String(m.streams.defective), target: '0', status: pass(m.streams.defective === 0) },
    {
      name: 'children exited on their own after a kill',
      value: `${m.orphans.exitedOnTheirOwn}/${m.orphans.childrenSeen} (slowest ${m.orphans.maxGoneMs ?? '-'} ms)`,
      target: 'all',
      status: r.settings.killMode === 'group' ? 'info' : pass(m.orphans.killedByBench === 0),
    },
    { name: 'media files left behind (data dir media/)', value: String(r.longform.jobs.mediaLeftBehind.length), target: '0', status: pass(r.longform.jobs.mediaLeftBehind.length === 0) },
    { name: 'Sori temp files left behind (server TMPDIR)', value: String(r.tempLeftBehind.length), target: '0', status: pass(r.tempLeftBehind.length === 0) },
    { name: 'peak RSS server / tree (MB)', value: `${m.peakRssMb.server ?? '-'} / ${m.peakRssMb.tree ?? '-'}`, target: '', status: 'info' },
  ];
  if (r.error) checks.push({ name: 'error', value: r.error.slice(0, 120), target: '', status: 'FAIL' });
  return checks;
}

/** The soak as text: the summary table, then what went wrong, first few of each. */
export function formatMixedSoak(r: MixedSoakResult): string {
  const m = r.summary;
  const L: string[] = [];
  const st = r.settings;
  L.push(`Mixed crash soak: ${m.cycles} SIGKILLs (${st.killMode}) in ${m.wallS.toFixed(0)} s, seed ${st.seed}; restart to healthy p50 ${m.restarts.p50S} s, max ${m.restarts.maxS} s`);
  L.push(`load: uploads every ~${st.longform.submitEveryMs} ms (<= ${st.longform.maxOutstanding} unfinished, ${st.longform.pool} files), short x${st.short.clients} (${st.short.pool} clips), streams gRPC x${st.streams.grpc} + WebSocket x${st.streams.websocket} (${st.streams.pool} clips)`);
  L.push('');
  L.push(
    formatTable(
      ['load', 'attempted', 'ok', 'cut by a kill', 'busy', 'defective', 'other'],
      [
        ['long-form uploads', m.uploads.attempted, m.uploads.accepted, m.uploads.cut, m.uploads.busy, m.uploads.defective, ''],
        ['long-form jobs', m.jobs.accepted, m.jobs.completed, '', '', '', `failed ${m.jobs.failed}, lost ${m.jobs.lost}, twice ${m.jobs.duplicated}`],
        ['callbacks', m.callbacks.total, m.callbacks.exactlyOnce, '', '', '', `missing ${m.callbacks.missing}, >1 ${m.callbacks.moreThanOnce}, unknown token ${m.callbacks.unknownToken}`],
        ['short requests', r.short.attempted, m.short.ok, m.short.cut, m.short.busy, m.short.defective, `text changed ${m.short.textChanged}`],
        ['streams gRPC', '', r.streams.byTransport.grpc.ok, r.streams.byTransport.grpc.cut, '', r.streams.byTransport.grpc.defective, ''],
        ['streams WebSocket', '', r.streams.byTransport.websocket.ok, r.streams.byTransport.websocket.cut, '', r.streams.byTransport.websocket.defective, ''],
      ],
    ),
  );
  L.push('');
  const lf = r.longform.jobs;
  L.push(`jobs: resumed from a checkpoint ${lf.resumedFromCheckpoint}, started more than once ${lf.startedMoreThanOnce}; upload -> callback p50 ${lf.latencyP50S} s, p95 ${lf.latencyP95S} s, max ${lf.latencyMaxS} s; GET differs from callback ${lf.getDiffersFromCallback}; unordered segments ${lf.badSegmentOrder}`);
  L.push(`accuracy: jobs ${fmtRates(r.longform.accuracy)}; short ${fmtRates(r.short.accuracy)} (p50 ${r.short.latencyP50S} s, p95 ${r.short.latencyP95S} s); streams ${fmtRates(r.streams.accuracy)} (final after epFlag p50 ${r.streams.epLatencyP50Ms} ms, p95 ${r.streams.epLatencyP95Ms} ms; no endPoint final ${r.streams.noEndPointFinal}, empty ${r.streams.emptyText})`);
  L.push(`kills with a job PROCESSING ${r.kills.filter((k) => k.jobsProcessing > 0).length}/${r.kills.length}, with a short request in flight ${r.kills.filter((k) => k.shortInFlight > 0).length}, with a stream ${r.kills.filter((k) => k.streamsInFlight > 0).length}`);
  L.push(`memory: peak server ${r.memory.peakServerMb ?? '-'} MB (VmHWM), tree ${r.memory.peakTreeMb ?? '-'} MB; by process ${Object.entries(r.memory.peakByRoleMb).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  for (const l of lf.lostDetail.slice(0, 10)) L.push(`  not completed: ${l.token} ${l.file} ${l.state} ${l.message ?? ''}`);
  for (const d of lf.completedTwiceDetail.slice(0, 10)) L.push(`  twice: ${d.token} ${d.file} delivery ids ${d.deliveryIds.join(',')} digests ${d.digests.join(',')}`);
  for (const d of r.longform.submissions.defects.slice(0, 10)) L.push(`  upload defect at ${d.atS} s: ${d.file} HTTP ${d.status} ${d.body}`);
  for (const d of r.defects.slice(0, 20)) L.push(`  ${d.kind} defect at ${d.atS} s (life ${d.life}): ${d.file} ${d.status ?? ''} ${d.detail}`);
  for (const d of r.short.textChangedDetail.slice(0, 5)) L.push(`  short text changed: ${d.file}: "${d.first.slice(0, 60)}" -> "${d.now.slice(0, 60)}"`);
  if (lf.mediaLeftBehind.length) L.push(`  media left behind: ${lf.mediaLeftBehind.slice(0, 8).join(', ')}`);
  if (r.tempLeftBehind.length) L.push(`  temp files left behind: ${r.tempLeftBehind.slice(0, 8).join(', ')}`);
  if (Object.keys(r.tempOther).length) L.push(`  not Sori's, left in its TMPDIR: ${Object.entries(r.tempOther).map(([k, v]) => `${k} x${v}`).join(', ')}`);
  L.push(`server log: ${st.logPath}`, '');
  L.push(formatTable(['check', 'value', 'target', 'result'], r.checks.map((c) => [c.name, c.value, c.target, c.status])));
  if (r.error) L.push('', `ERROR: ${r.error}`);
  return L.join('\n');
}

function fmtRates(rates: CorpusRate[]): string {
  return rates.map((a) => `${a.lang} ${a.metric.toUpperCase()} ${pct(a.rate)} (${a.clips})`).join(', ') || '-';
}
