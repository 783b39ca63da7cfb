/**
 * Server phases of the bench, all against one server process so memory and event-loop
 * figures describe one realistic lifetime: sequential accuracy/RTF, latency with 1 and with
 * N clients (event-loop lag scraped meanwhile), then a burst of simultaneous requests.
 */
import type { Clip } from './manifest.js';
import { requestMix } from './manifest.js';
import { Bodies, runClients, scrapeMetric, type SttResult } from './client.js';
import { corpusRates, scoreClip, type CorpusRate } from './score.js';
import { treeMemory, type ServerHandle } from './server-process.js';
import { log, progress } from './progress.js';
import { percentile, round, sum } from './stats.js';

/** Sori's own gauge: 1 ms sampling, the excess over the sampling interval, reset per scrape. */
export const EVENT_LOOP_METRIC = 'sori_event_loop_delay_seconds{quantile="0.99"}';
/** Growth of the server's RSS across the burst that still counts as bounded (my choice). */
export const BURST_RSS_GROWTH_LIMIT_MB = 150;

export interface LatencyPhase {
  clients: number;
  requests: number;
  ok: number;
  failed: number;
  p50S: number;
  p95S: number;
  maxS: number;
  wallS: number;
  /** Audio seconds answered per wall-clock second. */
  throughput: number;
}

export interface ServerBenchResult {
  pid: number;
  env: Record<string, string>;
  sequential: {
    clips: number;
    failed: number;
    audioS: number;
    procS: number;
    rtf: number;
    rates: CorpusRate[];
    perClip: { file: string; lang: string; status: number; latencyS: number; text: string | null; error?: string }[];
  };
  latency1: LatencyPhase;
  latencyN: LatencyPhase;
  eventLoop: { metric: string; idleP99Ms: number | null; maxP99Ms: number | null; samplesMs: number[] };
  burst: {
    requests: number;
    ok: number;
    lost: number;
    nonOk: { file: string; status: number; error?: string }[];
    mismatched: { file: string; expected: string | null; got: string | null }[];
    rssBeforeMb: number | null;
    rssAfterMb: number | null;
    rssGrowthMb: number | null;
  };
  peakRssMb: number | null;
  /** The same peak per process (VmHWM each): which one to work on. */
  peakByProcess: { role: string; peakMb: number }[];
}

function latencyPhase(clients: number, results: readonly SttResult[], wallS: number): LatencyPhase {
  const ok = results.filter((r) => r.status === 200);
  const lat = ok.map((r) => r.latencyS);
  return {
    clients,
    requests: results.length,
    ok: ok.length,
    failed: results.length - ok.length,
    p50S: percentile(lat, 50),
    p95S: percentile(lat, 95),
    maxS: lat.length ? Math.max(...lat) : NaN,
    wallS,
    throughput: sum(ok.map((r) => r.durationS)) / wallS,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function benchServer(
  server: ServerHandle,
  apiKey: string,
  clips: readonly Clip[],
  opts: {
    requests: number;
    clients: number;
    burst: number;
    /** Each clip's answer, already fetched one at a time (interleaved with the in-process run). */
    sequential?: SttResult[];
    bodies?: Bodies;
  },
): Promise<ServerBenchResult> {
  const bodies = opts.bodies ?? new Bodies();
  const url = server.baseUrl;
  const tick = (label: string, n: number) => {
    const bar = progress(label, n);
    return { bar, onDone: (r: SttResult) => bar.tick(`${r.file} ${r.status} ${r.latencyS.toFixed(2)} s`) };
  };

  // 3. Every clip once, one at a time: end-to-end RTF and accuracy through HTTP.
  let seq: { results: SttResult[] };
  if (opts.sequential) seq = { results: opts.sequential };
  else {
    const p = tick('server sequential', clips.length);
    seq = await runClients(url, apiKey, clips, 1, bodies, p.onDone);
    p.bar.stop();
  }
  const seqOk = seq.results.filter((r) => r.status === 200);
  const seqScores = seqOk.map((r) => {
    const c = clips.find((x) => x.file === r.file) as Clip;
    return { lang: r.lang, score: scoreClip({ lang: c.lang, reference: c.reference, referenceSpelled: c.referenceSpelled }, r.text ?? '') };
  });
  const seqAudio = sum(seqOk.map((r) => r.durationS));
  const seqProc = sum(seqOk.map((r) => r.latencyS));
  const expected = new Map(seq.results.map((r) => [r.file, r.status === 200 ? r.text : null]));

  // 4a. Latency, one client, the fixed request mix.
  const mix = requestMix(clips, opts.requests);
  let p = tick('server 1 client', mix.length);
  const one = await runClients(url, apiKey, mix, 1, bodies, p.onDone);
  p.bar.stop();

  // 6. Event-loop lag: prom-client resets its histogram on every scrape, so each sample is
  // the p99 since the previous one. First an idle baseline (the figure includes the
  // histogram's 10 ms sampling interval), then samples every second under load.
  let idleP99Ms: number | null = null;
  try {
    await scrapeMetric(url, apiKey, EVENT_LOOP_METRIC);
    await sleep(2000);
    const v = await scrapeMetric(url, apiKey, EVENT_LOOP_METRIC);
    idleP99Ms = v === null ? null : v * 1000;
  } catch (err) {
    log(`event-loop baseline: ${(err as Error).message}`);
  }
  const samplesMs: number[] = [];
  let scraping = true;
  const scraper = (async () => {
    while (scraping) {
      await sleep(1000);
      try {
        const v = await scrapeMetric(url, apiKey, EVENT_LOOP_METRIC);
        if (v !== null) samplesMs.push(v * 1000);
      } catch (err) {
        log(`/metrics: ${(err as Error).message}`);
      }
    }
  })();

  // 4b. Latency and throughput with N concurrent clients.
  p = tick(`server ${opts.clients} clients`, mix.length);
  let many;
  try {
    many = await runClients(url, apiKey, mix, opts.clients, bodies, p.onDone);
  } finally {
    p.bar.stop();
    scraping = false;
    await scraper;
  }

  // 7. A burst: everything at once. All must be answered 200 with the texts the same server
  // gave one at a time (same beam, deterministic), and memory must come back down.
  const burstMix = requestMix(clips, opts.burst);
  const before = server.memory();
  log(`server burst: ${burstMix.length} requests at once (RSS ${before ? before.rssMb.toFixed(0) : '?'} MB)`);
  const burst = await runClients(url, apiKey, burstMix, burstMix.length, bodies);
  const after = server.memory();
  log(`server burst done in ${burst.wallS.toFixed(1)} s (RSS ${after ? after.rssMb.toFixed(0) : '?'} MB)`);
  const mismatched = burst.results
    .filter((r) => r.status === 200 && r.text !== expected.get(r.file))
    .map((r) => ({ file: r.file, expected: expected.get(r.file) ?? null, got: r.text }));

  // VmHWM of the server and of each process under it; their sum is the peak reported.
  const byProcess = treeMemory(server.pid);
  const peakByProcess = byProcess.map((m) => ({ role: m.role, peakMb: round(m.peakMb, 1) }));
  return {
    pid: server.pid,
    env: server.env,
    sequential: {
      clips: seq.results.length,
      failed: seq.results.length - seqOk.length,
      audioS: round(seqAudio, 3),
      procS: round(seqProc, 3),
      rtf: seqProc / seqAudio,
      rates: corpusRates(seqScores),
      perClip: seq.results.map((r) => ({ file: r.file, lang: r.lang, status: r.status, latencyS: round(r.latencyS, 3), text: r.text, error: r.error })),
    },
    latency1: latencyPhase(1, one.results, one.wallS),
    latencyN: latencyPhase(opts.clients, many.results, many.wallS),
    eventLoop: {
      metric: EVENT_LOOP_METRIC,
      idleP99Ms,
      maxP99Ms: samplesMs.length ? Math.max(...samplesMs) : null,
      samplesMs: samplesMs.map((x) => round(x, 2)),
    },
    burst: {
      requests: burstMix.length,
      ok: burst.results.filter((r) => r.status === 200).length,
      lost: burst.results.filter((r) => r === undefined || r.status === 0).length,
      nonOk: burst.results.filter((r) => r.status !== 200).map((r) => ({ file: r.file, status: r.status, error: r.error })),
      mismatched,
      rssBeforeMb: before ? round(before.rssMb, 1) : null,
      rssAfterMb: after ? round(after.rssMb, 1) : null,
      rssGrowthMb: before && after ? round(after.rssMb - before.rssMb, 1) : null,
    },
    peakRssMb: byProcess.length > 0 ? round(sum(byProcess.map((m) => m.peakMb)), 1) : null,
    peakByProcess,
  };
}
