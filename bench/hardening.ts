/**
 * Hostile input at volume (issue 18): every fuzzed surface against the real server (a child
 * process, as users run it), with a healthy client probing all along.
 *
 *   SORI_MODELS_DIR=../shared/models npm run bench:hardening -- [--parts fuzz,slow-clients,soak] [--count 10000] [--seed 1] [--surfaces short,longform,...] [--soak-cycles 50]
 *
 * Three parts, in order: `fuzz` (below), `slow-clients` (bench/slow-clients.ts: 500 slowloris
 * connections and a healthy client) and `soak` (bench/hardening-soak.ts: SIGKILL/restart
 * cycles under mixed load). Each part prints its own tables.
 *
 * Per surface and case family: cases, what came back (label x count), defects (an answer the
 * docs do not list for bad input: a 5xx other than the documented ones, a hang, a connection
 * dropped without an answer), the healthy client's p50/p99 latency during the attack and the
 * server's peak RSS (whole process tree). Cases are reproducible from (seed, index):
 * `bench/lib/fuzz/harness.ts` generate().
 */
import { statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { startServer, freePort, treeMemory } from './lib/server-process.js';
import { modelsDir, OUT_DIR } from './lib/paths.js';
import { log } from './lib/progress.js';
import { formatTable } from './lib/table.js';
import { machineInfo, writeLatest } from './lib/output.js';
import { runSurface, serverErrorsSince, startHealthProbe, type FuzzTarget, type HealthReport, type Surface, type SurfaceReport } from './lib/fuzz/harness.js';
import { fuzzClip } from './lib/fuzz/clip.js';
import { hardeningSurfaces } from './lib/fuzz/surfaces/index.js';
import { slowClientsCli } from './slow-clients.js';
import { hardeningSoakCli } from './hardening-soak.js';
import { helpOnRequest } from './lib/help.js';

helpOnRequest(import.meta.url);

const { values: a } = parseArgs({
  options: {
    count: { type: 'string', default: '10000' },
    seed: { type: 'string', default: '1' },
    surfaces: { type: 'string' },
    concurrency: { type: 'string', default: '8' },
    parts: { type: 'string', default: 'fuzz,slow-clients,soak' },
    'soak-cycles': { type: 'string', default: '50' },
  },
});
const PARTS = ['fuzz', 'slow-clients', 'soak'] as const;
const KEY = 'hardening-bench-key';

interface Row {
  report: SurfaceReport;
  health: HealthReport;
  peakRssMb: number | null;
  alive: boolean;
  /** Error and fatal lines the server logged during the surface: bad input should cause none. */
  serverErrors: string[];
}


async function main(): Promise<void> {
  const count = Number(a.count);
  const runName = (a.surfaces ?? 'all').replace(/[^\w]+/g, '-');
  const seed = Number(a.seed);
  const grpcPort = await freePort();
  const server = await startServer({
    apiKey: KEY,
    modelsDir: modelsDir(),
    // Greedy decoding keeps the cases that do reach the engine cheap. Wrong-secret throttling is
    // off: with it, the cases' wrong keys would block the fuzzer's address and every later case
    // would test the throttle (tested on its own in test/domains/auth.int.test.ts).
    env: { SORI_GRPC_PORT: String(grpcPort), SORI_BEAM_SIZE: '1', SORI_AUTH_MAX_FAILURES: '0' },
    // One log (and result file) per set of surfaces, so two runs can go side by side.
    logPath: join(OUT_DIR, `hardening-server-${runName}.log`),
  });
  const clip = fuzzClip();
  const target: FuzzTarget = { host: '127.0.0.1', port: server.port, baseUrl: server.baseUrl, grpcPort, key: KEY, clip };
  const all = hardeningSurfaces(clip);
  const wanted = a.surfaces?.split(',') ?? Object.keys(all);
  const rows: Row[] = [];
  try {
    for (const name of wanted) {
      const build = all[name];
      if (build === undefined) throw new Error(`unknown surface ${name}; have ${Object.keys(all).join(', ')}`);
      const surface: Surface = build();
      log(`${surface.name}: ${count} cases, seed ${seed}`);
      const logFrom = statSync(server.logPath).size;
      const probe = startHealthProbe(async () => {
        const r = await fetch(`${server.baseUrl}/healthz`, { signal: AbortSignal.timeout(10_000) });
        await r.arrayBuffer();
        return r.status === 200;
      }, 250);
      let peak = 0;
      const sampler = setInterval(() => {
        const rss = treeMemory(server.pid).reduce((sum, m) => sum + (Number.isFinite(m.rssMb) ? m.rssMb : 0), 0);
        peak = Math.max(peak, rss);
      }, 500);
      let report: SurfaceReport;
      try {
        report = await runSurface(surface, target, {
          seed,
          count,
          concurrency: Number(a.concurrency),
          onProgress: (n) => {
            if (n % 500 === 0) log(`  ${n}/${count}`);
          },
          stopWhen: () => (server.child.exitCode !== null || server.child.signalCode !== null ? 'the server exited' : probe.failing() ? '/healthz failing' : undefined),
        });
      } finally {
        clearInterval(sampler);
      }
      const health = probe.stop();
      rows.push({ report, health, peakRssMb: peak === 0 ? null : Math.round(peak), alive: server.child.exitCode === null, serverErrors: serverErrorsSince(server.logPath, logFrom) });
      printSurface(rows[rows.length - 1]);
    }
  } finally {
    await server.stop();
  }
  const defects = rows.reduce((n, r) => n + Object.values(r.report.families).reduce((m, f) => m + f.defects.length, 0) + (r.alive ? 0 : 1) + r.serverErrors.length, 0);
  console.log(`\n${defects === 0 ? 'no defects' : `${defects} defects (first 20 per family in the JSON)`}; server log ${server.logPath}`);
  const path = writeLatest(a.surfaces === undefined ? 'hardening' : `hardening-${runName}`, { kind: 'hardening', date: new Date().toISOString(), machine: machineInfo(), seed, count, rows });
  console.log(`written: ${path}`);
  if (defects > 0) process.exitCode = 1;
}

function printSurface(r: Row): void {
  const lines = Object.entries(r.report.families).map(([family, f]) => {
    const outcomes = Object.entries(f.outcomes).sort((x, y) => y[1] - x[1]).map(([l, n]) => `${l} x${n}`).join(', ');
    return [family, f.count, outcomes, f.defects.length === 0 ? '0' : `${f.defects.length} (cases ${f.defects.slice(0, 5).map((d) => `#${d.index}`).join(' ')}...): ${f.defects[0].describe.slice(0, 80)} -> ${f.defects[0].outcome.label}`];
  });
  console.log(`\n${r.report.surface}: ${r.report.count} cases in ${(r.report.ms / 1000).toFixed(0)} s; healthy client p50 ${r.health.p50Ms} ms, p99 ${r.health.p99Ms} ms, ${r.health.failures}/${r.health.probes} failed; peak RSS ${r.peakRssMb} MB; server ${r.alive ? 'alive' : 'DEAD'}; ${r.serverErrors.length} error lines logged${r.serverErrors.length > 0 ? ` (first: ${r.serverErrors[0].slice(0, 200)})` : ''}`);
  console.log(formatTable(['family', 'cases', 'outcomes', 'defects'], lines));
}

async function run(): Promise<void> {
  const parts = a.parts.split(',');
  const unknown = parts.filter((p) => !(PARTS as readonly string[]).includes(p));
  if (unknown.length > 0) throw new Error(`unknown parts ${unknown.join(', ')}; have ${PARTS.join(', ')}`);
  let code = 0;
  if (parts.includes('fuzz')) {
    await main();
    code = Math.max(code, Number(process.exitCode ?? 0));
  }
  if (parts.includes('slow-clients')) code = Math.max(code, await slowClientsCli([]));
  if (parts.includes('soak')) code = Math.max(code, await hardeningSoakCli(['--cycles', a['soak-cycles'], '--seed', a.seed]));
  process.exitCode = code;
}

await run();
