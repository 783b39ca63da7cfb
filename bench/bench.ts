/**
 * npm run bench -- [--tag quick] [--limit N] [--skip-reference] [--json] ...   (--help for all)
 *
 * One run, side by side on the same clips and the same machine state, because absolute
 * times on a shared machine mean little: only ratios measured in the same run are reported
 * against targets.
 *   1. reference: faster-whisper int8 via ../shared/bench/reference.py, beam 1 and 5
 *   2. Sori's engine in-process, beam 1 and 5 (decodeFile + transcribe timed, as faster-whisper
 *      decodes the file inside transcribe)
 *   3. the real server, each clip once through POST /recog/v1/stt (interleaved clip by clip
 *      with step 2's beam run)
 * in the order ref b1, Sori b1, ref b5, Sori b5 + server, so each ratio's two sides are
 * measured minutes (or seconds) apart, never a whole run apart; then
 *   4. latency with 1 and with N concurrent clients, throughput
 *   5. peak RSS of the server and of the reference
 *   6. event-loop lag p99 of the server under load
 *   7. a burst of simultaneous requests: all answered, same texts, memory bounded
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { loadManifest, manifestPath, selectClips, writeClipManifest, type Clip } from './lib/manifest.js';
import { modelsDir, OUT_DIR, referenceDir, testdataDir } from './lib/paths.js';
import { PEAK_RSS_METHOD, runReference, setupReference, type ReferenceRun, type ReferenceSetup } from './lib/reference.js';
import { Bodies, recognise, type SttResult } from './lib/client.js';
import type { SpeechEngine } from '../src/speech/engine.js';
import { loadDecoder, openEngine, runEngine, type EngineRun } from './lib/sori.js';
import { startServer, procMemory, type ServerHandle } from './lib/server-process.js';
import { benchServer, BURST_RSS_GROWTH_LIMIT_MB, type ServerBenchResult } from './lib/server-bench.js';
import { NORMALISATION_NOTE, metricFor, type CorpusRate } from './lib/score.js';
import { formatTable, pct, type Cell } from './lib/table.js';
import { finishRun, machineInfo, type Check } from './lib/output.js';
import { log } from './lib/progress.js';
import { round } from './lib/stats.js';

// `npm run bench -- --longform ...` is the long-form bench (bench/longform.ts, also `npm run bench:longform`).
if (process.argv.slice(2).includes('--longform')) {
  const { longformCli } = await import('./longform.js');
  process.exit(await longformCli(process.argv.slice(2).filter((x) => x !== '--longform')));
}

const TARGETS = {
  rtfVsReference: 1.0,
  serverVsEngine: 1.1,
  eventLoopP99Ms: 20,
} as const;

const { values: a } = parseArgs({
  options: {
    tag: { type: 'string', default: 'quick' },
    limit: { type: 'string' },
    'max-s': { type: 'string', default: '60' },
    threads: { type: 'string', default: '2' },
    beam: { type: 'string', default: '5' },
    requests: { type: 'string' },
    clients: { type: 'string', default: '10' },
    burst: { type: 'string', default: '20' },
    parallel: { type: 'string' },
    // What users run (npm start): the built server, not tsx, whose loader costs each process ~40 MB.
    'server-entry': { type: 'string', default: 'dist/main.js' },
    'skip-reference': { type: 'boolean', default: false },
    'skip-engine': { type: 'boolean', default: false },
    'skip-server': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    strict: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

const HELP = `usage: npm run bench -- [options]
  --tag quick         clips with this tag (default quick)
  --limit N           at most N clips, languages taken in turn (smoke runs)
  --max-s 60          longest clip, seconds (as reference.py)
  --threads 2         CPU threads for both engines and the server (SORI_THREADS)
  --beam 5            beam of the beam-search runs and the server (SORI_BEAM_SIZE)
  --requests N        requests in each latency phase (default: 2 per clip, 10..40)
  --clients 10        concurrent clients in the loaded latency phase
  --burst 20          simultaneous requests in the burst check
  --parallel N        SORI_PARALLEL for the server (default: the server's own)
  --server-entry F    server entry point (default dist/main.js, built by npm run bench; src/main.ts runs through tsx)
  --skip-reference    no faster-whisper runs (no ratios to the reference)
  --skip-engine       no in-process runs;  --skip-server  no server phases
  --json              print the result JSON on stdout instead of tables
  --strict            exit 1 when a target FAILs
  --longform          the long-form bench instead (bench/longform.ts; --longform --help)
Progress goes to stderr; the result is also written to .bench/bench-latest.json.`;

if (a.help) {
  console.log(HELP);
  process.exit(0);
}

function posInt(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} wants a positive integer, got ${v}`);
  return n;
}


function ratioCheck(name: string, num: number | undefined, den: number | undefined, target: number, what: string): Check {
  if (num === undefined || den === undefined || !(den > 0)) return { name, value: 'n/a', target: `<= ${target.toFixed(2)}`, status: 'n/a' };
  const r = num / den;
  return { name, value: `${r.toFixed(2)}x (${what} ${num.toFixed(4)} / ${den.toFixed(4)})`, target: `<= ${target.toFixed(2)}`, status: r <= target ? 'PASS' : 'FAIL' };
}

const ms = (s: number) => `${(s * 1000).toFixed(0)} ms`;

function rateOf(rates: CorpusRate[] | undefined, lang: string): number | undefined {
  return rates?.find((r) => r.lang === lang)?.rate;
}

interface BenchResult {
  kind: 'sori-bench';
  date: string;
  selection: { tag: string; maxS: number; limit: number | null; clips: number; audioS: number; files: string[] };
  settings: { threads: number; beam: number; requests: number; clients: number; burst: number; serverParallel: string | null };
  normalisation: string;
  machine: Record<string, unknown>;
  reference?: { greedy: ReferenceRun; beam: ReferenceRun; peakRssMethod: string } | { skipped: true };
  engine?: { greedy: EngineRun; beam: EngineRun } | { skipped: true };
  server?: ServerBenchResult | { skipped: true };
  checks: Check[];
  error?: string;
}

const isRun = <T extends object>(x: T | { skipped: true } | undefined): x is T => !!x && !('skipped' in x);

function checks(r: BenchResult): Check[] {
  const ref = isRun(r.reference) ? r.reference : undefined;
  const eng = isRun(r.engine) ? r.engine : undefined;
  const srv = isRun(r.server) ? r.server : undefined;
  const out: Check[] = [
    ratioCheck('RTF greedy, Sori / reference', eng?.greedy.rtf, ref?.greedy.rtf, TARGETS.rtfVsReference, 'RTF'),
    ratioCheck(`RTF beam ${r.settings.beam}, Sori / reference`, eng?.beam.rtf, ref?.beam.rtf, TARGETS.rtfVsReference, 'RTF'),
    ratioCheck(`Server end-to-end RTF / in-process beam ${r.settings.beam}`, srv?.sequential.rtf, eng?.beam.rtf, TARGETS.serverVsEngine, 'RTF'),
  ];
  if (srv) {
    const l1 = srv.latency1;
    const ln = srv.latencyN;
    const failed = srv.sequential.failed + l1.failed + ln.failed;
    out.push(
      { name: 'Latency 1 client p50 / p95', value: `${ms(l1.p50S)} / ${ms(l1.p95S)} (${l1.requests} req)`, target: '', status: 'info' },
      { name: `Latency ${ln.clients} clients p50 / p95`, value: `${ms(ln.p50S)} / ${ms(ln.p95S)} (${ln.requests} req)`, target: '', status: 'info' },
      {
        name: `Throughput 1 / ${ln.clients} clients (audio s per s)`,
        value: `${l1.throughput.toFixed(1)} / ${ln.throughput.toFixed(1)}`,
        target: '',
        status: 'info',
      },
      {
        name: 'Requests failed (sequential + latency phases)',
        value: String(failed),
        target: '0',
        status: failed === 0 ? 'PASS' : 'FAIL',
      },
    );
    const el = srv.eventLoop;
    out.push({
      name: `Event-loop p99, max under ${ln.clients} clients`,
      value: el.maxP99Ms === null ? 'not exposed' : `${el.maxP99Ms.toFixed(1)} ms (idle ${el.idleP99Ms?.toFixed(1) ?? '?'} ms, ${el.samplesMs.length} samples)`,
      target: `< ${TARGETS.eventLoopP99Ms} ms`,
      status: el.maxP99Ms === null ? 'FAIL' : el.maxP99Ms < TARGETS.eventLoopP99Ms ? 'PASS' : 'FAIL',
    });
    const b = srv.burst;
    const burstOk = b.ok === b.requests && b.lost === 0 && b.mismatched.length === 0;
    out.push(
      {
        name: `${b.requests} concurrent: answered 200 / same text / lost`,
        value: `${b.ok}/${b.requests} / ${b.ok - b.mismatched.length}/${b.ok} / ${b.lost}`,
        target: 'all / all / 0',
        status: burstOk ? 'PASS' : 'FAIL',
      },
      {
        name: `Server RSS before -> after the burst`,
        value: b.rssGrowthMb === null ? 'n/a' : `${b.rssBeforeMb?.toFixed(0)} -> ${b.rssAfterMb?.toFixed(0)} MB (${b.rssGrowthMb >= 0 ? '+' : ''}${b.rssGrowthMb.toFixed(0)})`,
        target: `growth < ${BURST_RSS_GROWTH_LIMIT_MB} MB`,
        status: b.rssGrowthMb === null ? 'n/a' : b.rssGrowthMb < BURST_RSS_GROWTH_LIMIT_MB ? 'PASS' : 'FAIL',
      },
    );
  }
  const refPeak = ref ? Math.max(ref.greedy.peakRssMb ?? 0, ref.beam.peakRssMb ?? 0) : undefined;
  out.push({
    name: 'Peak RSS, server / reference',
    value: `${srv?.peakRssMb?.toFixed(0) ?? '-'} MB / ${refPeak ? refPeak.toFixed(0) : '-'} MB${srv?.peakRssMb && refPeak ? ` (${(srv.peakRssMb / refPeak).toFixed(2)}x)` : ''}${srv?.peakByProcess?.length ? `; ${srv.peakByProcess.map((p) => `${p.role} ${p.peakMb.toFixed(0)}`).join(' + ')} MB` : ''}`,
    target: '',
    status: 'info',
  });
  // Accuracy: not a target here, but a regression shows at a glance next to the reference.
  const langs = [...new Set((eng?.beam.rates ?? srv?.sequential.rates ?? []).map((x) => x.lang))];
  for (const lang of langs) {
    const key = `${metricFor(lang)}_${lang}`;
    const refRate = ref?.beam.rates[key];
    out.push({
      name: `${lang} ${metricFor(lang).toUpperCase()} beam ${r.settings.beam}: Sori / server / reference`,
      value: `${pct(rateOf(eng?.beam.rates, lang))} / ${pct(rateOf(srv?.sequential.rates, lang))} / ${pct(refRate)}`,
      target: '',
      status: 'info',
    });
  }
  return out;
}

function report(r: BenchResult): string {
  const ref = isRun(r.reference) ? r.reference : undefined;
  const eng = isRun(r.engine) ? r.engine : undefined;
  const srv = isRun(r.server) ? r.server : undefined;
  const lines: string[] = [];
  lines.push(
    `Sori bench: ${r.selection.clips} clips, ${r.selection.audioS.toFixed(1)} s of audio (tag ${r.selection.tag}, <= ${r.selection.maxS} s${
      r.selection.limit ? `, limit ${r.selection.limit}` : ''
    }), ${r.settings.threads} threads; machine ${JSON.stringify(r.machine)}`,
  );
  lines.push(NORMALISATION_NOTE, '');

  const speedRows: Cell[][] = [];
  const addRef = (x: ReferenceRun | undefined, label: string) =>
    x && speedRows.push([label, x.beam, x.clips, x.audioS.toFixed(1), x.procS.toFixed(1), x.rtf.toFixed(4), '', x.peakRssMb ? x.peakRssMb.toFixed(0) : '-']);
  const addEng = (x: EngineRun | undefined, vs: ReferenceRun | undefined) =>
    x &&
    speedRows.push([
      'Sori in-process',
      x.beam,
      x.clips,
      x.audioS.toFixed(1),
      x.procS.toFixed(1),
      x.rtf.toFixed(4),
      vs ? `${(x.rtf / vs.rtf).toFixed(2)}x ref` : '',
      '',
    ]);
  addRef(ref?.greedy, 'faster-whisper int8');
  addEng(eng?.greedy, ref?.greedy);
  addRef(ref?.beam, 'faster-whisper int8');
  addEng(eng?.beam, ref?.beam);
  if (srv) {
    const s = srv.sequential;
    speedRows.push([
      'Sori server (HTTP)',
      r.settings.beam,
      s.clips,
      s.audioS.toFixed(1),
      s.procS.toFixed(1),
      s.rtf.toFixed(4),
      eng ? `${(s.rtf / eng.beam.rtf).toFixed(2)}x in-proc` : '',
      srv.peakRssMb?.toFixed(0) ?? '-',
    ]);
  }
  if (speedRows.length) {
    lines.push('Speed (RTF = processing s / audio s; Sori timing includes decodeFile):');
    lines.push(formatTable(['engine', 'beam', 'clips', 'audio s', 'proc s', 'RTF', 'ratio', 'peak MB'], speedRows), '');
  }
  if (eng) {
    const dec = (x: EngineRun) => x.perClip.reduce((t, c) => t + c.decodeS, 0);
    lines.push(
      `Share of decodeFile in Sori's in-process time: greedy ${pct(dec(eng.greedy) / eng.greedy.procS)}, beam ${r.settings.beam} ${pct(dec(eng.beam) / eng.beam.procS)}`,
      '',
    );
  }

  const langs = [
    ...new Set([
      ...[...(eng?.beam.rates ?? []), ...(srv?.sequential.rates ?? [])].map((x) => x.lang),
      ...Object.keys(ref?.beam.rates ?? {}).map((k) => k.slice(4)),
    ]),
  ].sort();
  if (langs.length) {
    lines.push('Accuracy (corpus CER/WER):');
    lines.push(
      formatTable(
        ['lang', 'metric', 'ref b1', 'Sori b1', `ref b${r.settings.beam}`, `Sori b${r.settings.beam}`, `server b${r.settings.beam}`],
        langs.map((l) => {
          const k = `${metricFor(l)}_${l}`;
          return [l, metricFor(l).toUpperCase(), pct(ref?.greedy.rates[k]), pct(rateOf(eng?.greedy.rates, l)), pct(ref?.beam.rates[k]), pct(rateOf(eng?.beam.rates, l)), pct(rateOf(srv?.sequential.rates, l))];
        }),
      ),
      '',
    );
  }
  if (srv) {
    lines.push(`Server: pid ${srv.pid}, log .bench/bench-server.log, env ${JSON.stringify(Object.fromEntries(Object.entries(srv.env).filter(([k]) => k !== 'SORI_API_KEY' && k !== 'SORI_DATA_DIR')))}`);
    const b = srv.burst;
    for (const m of b.mismatched) lines.push(`  burst text differs for ${m.file}:\n    one at a time: ${m.expected}\n    in the burst:  ${m.got}`);
    for (const n of b.nonOk) lines.push(`  burst request ${n.file}: status ${n.status} ${n.error ?? ''}`);
    lines.push('');
  }
  if (ref) lines.push(`Reference peak RSS: ${ref.peakRssMethod}.`);
  lines.push('Server peak RSS: VmHWM summed over the server process and its inference child processes (/proc/<pid>/status) at the end of the server phases.');
  lines.push('Event-loop p99: the server\'s sori_event_loop_delay_seconds{quantile="0.99"} scraped every second (1 ms sampling, the delay beyond the sampling interval, reset per scrape).', '');

  lines.push('Summary:');
  lines.push(formatTable(['check', 'value', 'target', 'result'], r.checks.map((c) => [c.name, c.value, c.target, c.status])));
  if (r.error) lines.push('', `ERROR: ${r.error}`);
  return lines.join('\n');
}

async function main(): Promise<number> {
  const threads = posInt('threads', a.threads, 2);
  const beam = posInt('beam', a.beam, 5);
  const maxS = Number(a['max-s']);
  const limit = a.limit === undefined ? undefined : posInt('limit', a.limit, 0);
  const td = testdataDir();
  const clips: Clip[] = selectClips(loadManifest(manifestPath(td)), td, { tag: a.tag, maxS, limit });
  if (clips.length === 0) throw new Error(`no clips with tag ${a.tag}`);
  const requests = posInt('requests', a.requests, Math.min(40, Math.max(10, 2 * clips.length)));
  const clients = posInt('clients', a.clients, 10);
  const burst = posInt('burst', a.burst, 20);

  const result: BenchResult = {
    kind: 'sori-bench',
    date: new Date().toISOString(),
    selection: {
      tag: a.tag as string,
      maxS,
      limit: limit ?? null,
      clips: clips.length,
      audioS: round(clips.reduce((s, c) => s + c.durationS, 0), 3),
      files: clips.map((c) => c.file),
    },
    settings: { threads, beam, requests, clients, burst, serverParallel: a.parallel ?? null },
    normalisation: NORMALISATION_NOTE,
    machine: machineInfo(),
    checks: [],
  };
  log(`${clips.length} clips, ${result.selection.audioS.toFixed(1)} s of audio; threads ${threads}, beam ${beam}`);

  let server: ServerHandle | undefined;
  let engine: SpeechEngine | undefined;
  const tmp = mkdtempSync(join(tmpdir(), 'sori-bench-'));
  try {
    // Order matters on a shared machine whose load drifts over minutes: each figure is run
    // right next to the one it is divided by. Reference beam 1, Sori beam 1, reference beam 5,
    // then Sori beam 5 interleaved clip by clip with the server's request for the same clip.
    // Both engines stay loaded throughout; only one computes at any time.
    let refSetup: ReferenceSetup | undefined;
    const refManifest = join(tmp, 'clips.jsonl');
    const runRef = async (b: number) => {
      if (!refSetup) return undefined;
      const run = await runReference(refSetup, refManifest, { beam: b, threads, maxS });
      if (run.clips !== clips.length) throw new Error(`reference.py scored ${run.clips} clips, expected ${clips.length}`);
      log(`reference beam ${b}: RTF ${run.rtf}`);
      return run;
    };
    if (a['skip-reference']) result.reference = { skipped: true };
    else {
      refSetup = await setupReference(referenceDir());
      // Exactly our clips (limit included), so both sides score the same set.
      writeClipManifest(clips, refManifest);
    }
    let decode: Awaited<ReturnType<typeof loadDecoder>> | undefined;
    if (a['skip-engine']) result.engine = { skipped: true };
    else {
      decode = await loadDecoder();
      log(`loading Sori's engine (models ${modelsDir()})`);
      // One engine for both beams: the beam is per request.
      engine = await openEngine({ modelsDir: modelsDir(), threads, beamSize: beam });
    }

    // 1 + 2, greedy.
    const refGreedy = await runRef(1);
    const engGreedy = engine && decode ? await runEngine(engine, decode, clips, { beamSize: 1, threads, label: 'sori beam 1' }) : undefined;
    if (engGreedy) log(`Sori beam 1: RTF ${engGreedy.rtf.toFixed(4)}`);
    // 1, beam.
    const refBeam = await runRef(beam);
    if (refGreedy && refBeam) result.reference = { greedy: refGreedy, beam: refBeam, peakRssMethod: PEAK_RSS_METHOD };

    // 3. The real server, then Sori beam 5 in-process and through HTTP, clip by clip.
    const apiKey = `bench-${randomBytes(8).toString('hex')}`;
    if (a['skip-server']) result.server = { skipped: true };
    else {
      mkdirSync(OUT_DIR, { recursive: true });
      const env: Record<string, string> = {
        SORI_HOST: '127.0.0.1',
        SORI_THREADS: String(threads),
        SORI_BEAM_SIZE: String(beam),
        // Room for the whole burst: the check is about answers, not about the queue's limit.
        SORI_QUEUE_LIMIT: String(Math.max(burst, clients) + 8),
      };
      if (a.parallel) env.SORI_PARALLEL = a.parallel;
      const entry = a['server-entry'] as string;
      log(`starting the server (${entry})`);
      server = await startServer({ apiKey, modelsDir: modelsDir(), env, entry, logPath: join(OUT_DIR, 'bench-server.log') });
      log(`server up: pid ${server.pid}, ${server.baseUrl}, RSS ${procMemory(server.pid)?.rssMb.toFixed(0) ?? '?'} MB`);
    }
    const bodies = new Bodies();
    const sequential: SttResult[] = [];
    const srv = server;
    const engBeam =
      engine && decode
        ? await runEngine(engine, decode, clips, {
            beamSize: beam,
            threads,
            label: srv ? `sori beam ${beam} + server` : `sori beam ${beam}`,
            afterEach: srv
              ? async (c) => {
                  sequential.push(await recognise(srv.baseUrl, apiKey, c, bodies.get(c)));
                }
              : undefined,
          })
        : undefined;
    if (engBeam) log(`Sori beam ${beam}: RTF ${engBeam.rtf.toFixed(4)}`);
    if (engGreedy && engBeam) result.engine = { greedy: engGreedy, beam: engBeam };
    if (engine) {
      // Free its memory and threads before the server's loaded phases.
      await engine.close();
      engine = undefined;
    }

    // 4-7 on the same server process.
    if (server) result.server = await benchServer(server, apiKey, clips, { requests, clients, burst, bodies, sequential: engBeam ? sequential : undefined });
  } catch (err) {
    result.error = err instanceof Error ? err.message : String(err);
    log(`ERROR: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  } finally {
    if (engine) await engine.close().catch(() => undefined);
    if (server) {
      await server.stop();
      log('server stopped');
    }
    rmSync(tmp, { recursive: true, force: true });
  }

  result.checks = checks(result);
  return finishRun('bench', result, report, a);
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(1);
  },
);
