/**
 * npm run bench:longform -- [options]   (or npm run bench -- --longform [options]; --help for all)
 *
 * Long-form recognition (POST /recognizer/upload, jobs, VAD windows), five figures against the
 * issue's targets, each measured in this run:
 *   1. RTF of long-form against the bare engine on the same files (en/jobs_* and the 12-minute
 *      Korean file), same beam, interleaved file by file: bare (decodeFile + transcribe), then
 *      long-form in-process (recognizeMedia, what a job runs), then the same file through the
 *      real server (sync upload). Target: long-form / bare <= 1.10.
 *   2. CER of the 12-minute Korean file through long-form against the quick-set Korean clips
 *      (engine in-process, beam N). Target: not more than 1 point above.
 *   3. Utterance boundary recall on the joined files with per-utterance `segments`. Target >= 90%.
 *   4. Peak RSS of the server's process tree for a 2-hour file against a 10-minute file (async
 *      upload + polling, fresh server each). Target: within 15%.
 *   5. Crash soak: N SIGKILLs of the server while async jobs with callbacks run. Targets: no
 *      accepted job lost, none completed twice, every callback delivered exactly once.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { clipFromEntry, loadManifest, manifestPath, selectClips, type Clip } from './lib/manifest.js';
import { modelsDir, OUT_DIR, testdataDir } from './lib/paths.js';
import { loadDecoder, openEngine, runEngine, type EngineRun } from './lib/sori.js';
import { loadVad, runBare, runLongform } from './lib/longform-inprocess.js';
import { LONGFORM_LANG, resultText, uploadLongform } from './lib/longform-client.js';
import { boundaryRecall, spansFromMs, type BoundaryRecall } from './lib/boundaries.js';
import { loopedFile } from './lib/longform-media.js';
import { memoryRun, type MemoryRun } from './lib/longform-memory.js';
import { runSoak, type SoakResult } from './lib/soak.js';
import { soakJobPool } from './lib/callback-jobs.js';
import { startServer, type ServerHandle } from './lib/server-process.js';
import { NORMALISATION_NOTE, scoreClip, type ClipScore } from './lib/score.js';
import { formatTable, pct, type Cell } from './lib/table.js';
import { finishRun, machineInfo, type Check } from './lib/output.js';
import { log } from './lib/progress.js';
import { round } from './lib/stats.js';
import type { SpeechEngine } from '../src/speech/engine.js';
import type { SileroVad } from '../src/speech/vad/silero.js';
import type { LongformSegment } from '../src/transcript/segments.js';

export const LONGFORM_TARGETS = {
  rtfRatio: 1.1,
  cerPoints: 1.0,
  boundaryRecall: 0.9,
  boundaryToleranceS: 0.3,
  memoryRatio: 1.15,
} as const;

const PARTS = ['rtf', 'cer', 'boundaries', 'memory', 'soak'] as const;
type Part = (typeof PARTS)[number];

const HELP = `usage: npm run bench:longform -- [options]     (same as: npm run bench -- --longform [options])
  --beam 5              beam of every run: engine default, server SORI_BEAM_SIZE (default 5)
  --threads 2           inference threads (SORI_THREADS)
  --only a,b            parts to run: ${PARTS.join(',')} (default all)
  --repeat N            RTF: runs of each file under 2 minutes (bare, long-form, server; the order
                        alternating), summed (default 3: one 35 s run is within noise)
  --repeat-long N       RTF: the same for longer files (default 1)
  --skip-server-rtf     RTF: no server (sync upload) column
  --skip-memory         no memory part;  --quick-memory  1 h vs 10 min instead of 2 h vs 10 min
  --skip-soak           no soak part
  --soak-cycles N       SIGKILL + restart cycles (default 20, about 10 minutes)
  --soak-kill MODE      server (default: SIGKILL the server process only, then check that its
                        children exit on their own) | group (SIGKILL the whole process group)
  --soak-seed N         seed of the soak's random schedule (default: random, printed)
  --server-entry F      server entry point (default src/main.ts via tsx)
  --json                result JSON on stdout instead of tables
  --strict              exit 1 when a target FAILs
Progress goes to stderr; the result is also written to .bench/bench-longform-latest.json, server
logs to .bench/longform-*.log, generated long files to .bench/longform-*.flac (reused).`;


interface RtfFile {
  file: string;
  lang: string;
  runs: number;
  audioS: number;
  bareS: number[];
  longformS: number[];
  serverS: number[];
  bareRtf: number;
  longformRtf: number;
  serverRtf: number | null;
  ratio: number;
  serverRatio: number | null;
  longformSegments: number;
  bareScore: ClipScore;
  longformScore: ClipScore;
  serverScore: ClipScore | null;
  serverError?: string;
}

interface BoundaryFile {
  file: string;
  source: string;
  references: number;
  outputSegments: number;
  recall: BoundaryRecall;
  missed: { index: number; boundary: [number, number]; nearestGap: [number, number] | null; distanceS: number }[];
}

interface LongformBenchResult {
  kind: 'sori-bench-longform';
  date: string;
  settings: { beam: number; threads: number; parts: Part[]; repeat: { underTwoMinutes: number; longer: number }; serverRtf: boolean; memory: string; soakCycles: number };
  normalisation: string;
  machine: Record<string, unknown>;
  rtf?: { files: RtfFile[]; total: { audioS: number; bareS: number; longformS: number; serverS: number | null; ratio: number; serverRatio: number | null } };
  cer?: { longform: { file: string; score: ClipScore } | null; bare12min: ClipScore | null; quickKo: { clips: number; errors: number; length: number; rate: number; rtf: number } | null };
  boundaries?: BoundaryFile[];
  memory?: { short: MemoryRun; long: MemoryRun; ratio: number } | { skipped: true };
  soak?: SoakResult | { skipped: true };
  checks: Check[];
  error?: string;
}

function posInt(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} wants a positive integer, got ${v}`);
  return n;
}

const sumOf = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0);
const isRun = <T extends object>(x: T | { skipped: true } | undefined): x is T => !!x && !('skipped' in x);

const scoreOf = (c: Clip, text: string) => scoreClip({ lang: c.lang, reference: c.reference, referenceSpelled: c.referenceSpelled }, text);

function checksOf(r: LongformBenchResult): Check[] {
  const out: Check[] = [];
  const T = LONGFORM_TARGETS;
  if (r.rtf) {
    for (const f of r.rtf.files) {
      out.push({
        name: `RTF long-form / bare, ${f.file}`,
        value: `${f.ratio.toFixed(2)}x (${f.longformRtf.toFixed(4)} / ${f.bareRtf.toFixed(4)})`,
        target: `<= ${T.rtfRatio.toFixed(2)}`,
        status: f.ratio <= T.rtfRatio ? 'PASS' : 'FAIL',
      });
    }
    const t = r.rtf.total;
    out.push({
      name: 'RTF long-form / bare, all files',
      value: `${t.ratio.toFixed(2)}x (${(t.longformS / t.audioS).toFixed(4)} / ${(t.bareS / t.audioS).toFixed(4)})`,
      target: `<= ${T.rtfRatio.toFixed(2)}`,
      status: t.ratio <= T.rtfRatio ? 'PASS' : 'FAIL',
    });
    if (t.serverRatio !== null && t.serverS !== null) {
      out.push({
        name: 'RTF server long-form (sync upload) / bare, all files',
        value: `${t.serverRatio.toFixed(2)}x (${(t.serverS / t.audioS).toFixed(4)} / ${(t.bareS / t.audioS).toFixed(4)})`,
        target: `<= ${T.rtfRatio.toFixed(2)}`,
        status: t.serverRatio <= T.rtfRatio ? 'PASS' : 'FAIL',
      });
    }
  }
  if (r.cer) {
    const lf = r.cer.longform;
    const q = r.cer.quickKo;
    if (lf && q) {
      const diff = (lf.score.rate - q.rate) * 100;
      out.push({
        name: `CER ${lf.file} long-form vs quick ko clips`,
        value: `${pct(lf.score.rate)} vs ${pct(q.rate)} (${diff >= 0 ? '+' : ''}${diff.toFixed(1)} pt)`,
        target: `<= +${T.cerPoints.toFixed(1)} pt`,
        status: diff <= T.cerPoints ? 'PASS' : 'FAIL',
      });
    }
    if (r.cer.bare12min) out.push({ name: 'CER 12-min file, bare engine (same file, no VAD)', value: pct(r.cer.bare12min.rate), target: '', status: 'info' });
  }
  for (const b of r.boundaries ?? []) {
    out.push({
      name: `Boundary recall ${b.file}, ${b.source} (±${T.boundaryToleranceS} s)`,
      value: `${pct(b.recall.recall)} (${b.recall.found}/${b.recall.boundaries}; ${b.recall.unmatchedGaps} extra splits of ${b.recall.outputGaps})`,
      target: `>= ${pct(T.boundaryRecall, 0)}`,
      status: b.recall.recall >= T.boundaryRecall ? 'PASS' : 'FAIL',
    });
  }
  if (isRun(r.memory)) {
    const m = r.memory;
    const ok = m.short.state === 'COMPLETED' && m.long.state === 'COMPLETED';
    out.push({
      name: `Peak tree RSS ${m.long.label} / ${m.short.label}`,
      value: `${m.ratio.toFixed(3)}x (${m.long.peakTreeMb.toFixed(0)} / ${m.short.peakTreeMb.toFixed(0)} MB)${ok ? '' : ` (jobs: ${m.short.state}, ${m.long.state})`}`,
      target: `<= ${T.memoryRatio.toFixed(2)}`,
      status: ok && m.ratio <= T.memoryRatio ? 'PASS' : 'FAIL',
    });
    out.push({ name: `Server long-form RTF ${m.short.label} / ${m.long.label} (async + polling)`, value: `${m.short.rtf.toFixed(4)} / ${m.long.rtf.toFixed(4)}`, target: '', status: 'info' });
  }
  if (isRun(r.soak)) {
    const j = r.soak.jobs;
    const o = r.soak.orphans;
    out.push(
      { name: `Soak: ${r.soak.kills.length} SIGKILLs, jobs accepted / completed`, value: `${j.accepted} / ${j.completed}`, target: '', status: 'info' },
      { name: 'Soak: accepted jobs lost (never COMPLETED)', value: String(j.lost), target: '0', status: j.lost === 0 && j.accepted > 0 ? 'PASS' : 'FAIL' },
      { name: 'Soak: jobs completed twice (2+ delivery ids or differing results)', value: String(j.completedTwice), target: '0', status: j.completedTwice === 0 ? 'PASS' : 'FAIL' },
      { name: 'Soak: callback delivered exactly once', value: `${j.callbackExactlyOnce}/${j.accepted} (missing ${j.callbackMissing})`, target: 'all', status: j.callbackExactlyOnce === j.accepted && j.accepted > 0 ? 'PASS' : 'FAIL' },
      { name: 'Soak: repeated deliveries (same delivery id again)', value: String(j.duplicateDeliveries), target: '0', status: j.duplicateDeliveries === 0 ? 'PASS' : 'FAIL' },
      { name: 'Soak: children exited on their own after the kill', value: `${o.exitedOnTheirOwn}/${o.childrenSeen} (slowest ${o.maxGoneMs ?? '-'} ms)`, target: 'all', status: r.soak.settings.killMode === 'group' ? 'info' : o.exitedOnTheirOwn === o.childrenSeen ? 'PASS' : 'FAIL' },
      { name: 'Soak: jobs resumed from a checkpoint / started more than once', value: `${j.resumedFromCheckpoint} / ${j.startedMoreThanOnce}`, target: '', status: 'info' },
    );
    if (r.soak.error) out.push({ name: 'Soak: error', value: r.soak.error.slice(0, 120), target: '', status: 'FAIL' });
  }
  return out;
}

function report(r: LongformBenchResult): string {
  const L: string[] = [];
  const s = r.settings;
  L.push(`Sori long-form bench: beam ${s.beam}, ${s.threads} threads, parts ${s.parts.join(',')}; machine ${JSON.stringify(r.machine)}`);
  L.push(NORMALISATION_NOTE, '');
  if (r.rtf) {
    const rows: Cell[][] = r.rtf.files.map((f) => [
      f.file, f.runs, f.audioS.toFixed(1), sumOf(f.bareS).toFixed(1), sumOf(f.longformS).toFixed(1), f.serverS.length ? sumOf(f.serverS).toFixed(1) : '-',
      f.bareRtf.toFixed(4), f.longformRtf.toFixed(4), f.serverRtf?.toFixed(4) ?? '-', `${f.ratio.toFixed(2)}x`, f.serverRatio === null ? '-' : `${f.serverRatio.toFixed(2)}x`,
      f.longformSegments,
    ]);
    const t = r.rtf.total;
    rows.push(['all', '', t.audioS.toFixed(1), t.bareS.toFixed(1), t.longformS.toFixed(1), t.serverS?.toFixed(1) ?? '-', (t.bareS / t.audioS).toFixed(4), (t.longformS / t.audioS).toFixed(4), t.serverS === null ? '-' : (t.serverS / t.audioS).toFixed(4), `${t.ratio.toFixed(2)}x`, t.serverRatio === null ? '-' : `${t.serverRatio.toFixed(2)}x`, '']);
    L.push(`1. Speed (RTF = processing s / audio s, summed over the runs of each file). bare = decodeFile + engine.transcribe(whole file, no word timings);`);
    L.push('   long-form = probeFile + recognizeMedia in-process (ffmpeg stream, VAD windows, word timings); server = sync upload, client-side time.');
    L.push(formatTable(['file', 'runs', 'audio s', 'bare s', 'long-form s', 'server s', 'RTF bare', 'RTF l-f', 'RTF server', 'l-f/bare', 'server/bare', 'segments'], rows), '');
    L.push(formatTable(['file', 'metric', 'bare', 'long-form', 'server'], r.rtf.files.map((f) => [f.file, f.bareScore.metric.toUpperCase(), pct(f.bareScore.rate), pct(f.longformScore.rate), pct(f.serverScore?.rate)])), '');
  }
  if (r.cer) {
    const q = r.cer.quickKo;
    L.push(`2. Accuracy: 12-min file through long-form ${pct(r.cer.longform?.score.rate)} (${r.cer.longform?.score.errors}/${r.cer.longform?.score.length}, scored against ${r.cer.longform?.score.chosen}); bare engine on it ${pct(r.cer.bare12min?.rate)};`);
    L.push(`   quick-set ko clips in-process beam ${s.beam}: ${q ? `${pct(q.rate)} (${q.errors}/${q.length}, ${q.clips} clips)` : '-'}`, '');
  }
  if (r.boundaries?.length) {
    L.push(`3. Utterance boundaries: a reference pause [end_k, start_k+1] is found when an output gap [seg_i.end, seg_i+1.start] lies within ${LONGFORM_TARGETS.boundaryToleranceS} s of it.`);
    L.push(
      formatTable(
        ['file', 'from', 'ref utts', 'out segs', 'boundaries', 'found', 'recall', 'extra splits'],
        r.boundaries.map((b) => [b.file, b.source, b.references, b.outputSegments, b.recall.boundaries, b.recall.found, pct(b.recall.recall), b.recall.unmatchedGaps]),
      ),
    );
    for (const b of r.boundaries) {
      if (b.missed.length === 0) continue;
      L.push(`  missed in ${b.file} (first 8): ${b.missed.slice(0, 8).map((m) => `#${m.index} [${m.boundary.join('-')}] nearest ${m.nearestGap ? `[${m.nearestGap.join('-')}] ${m.distanceS.toFixed(2)} s` : 'none'}`).join('; ')}`);
    }
    L.push('');
  }
  if (isRun(r.memory)) {
    const m = r.memory;
    L.push('4. Memory: fresh server per file, async upload + GET polling every 2 s; tree = server + inference process + ffmpeg/ffprobe, current RSS summed per sample every 250 ms.');
    L.push(
      formatTable(
        ['file', 'audio min', 'state', 'wall s', 'RTF', 'segments', 'idle MB', 'peak tree MB', 'peak by process MB', 'VmHWM sum MB'],
        [m.short, m.long].map((x) => [x.label, (x.audioS / 60).toFixed(1), x.state, x.wallS.toFixed(0), x.rtf.toFixed(4), x.segments, x.idleTreeMb.toFixed(0), x.peakTreeMb.toFixed(0), Object.entries(x.peakByRoleMb).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', '), x.hwmSumEndMb?.toFixed(0) ?? '-']),
      ),
      '',
    );
  }
  if (isRun(r.soak)) {
    const k = r.soak;
    L.push(`5. Soak: ${k.kills.length} kills (${k.settings.killMode}) in ${k.wallS.toFixed(0)} s, seed ${k.settings.seed}; uploads ${k.submissions.attempted} attempted, ${k.submissions.accepted} accepted; refused/failed: ${JSON.stringify(k.submissions.rejected)}`);
    L.push(`   kills with a job PROCESSING: ${k.kills.filter((x) => x.processing > 0).length}/${k.kills.length}; restart to healthy: ${k.kills.filter((x) => x.restartS !== null).map((x) => x.restartS).join(', ')} s`);
    L.push(`   callbacks: ${k.jobs.callbacksTotal} received, ${k.jobs.callbacksUnknownToken} for tokens never acknowledged (server died before answering), GET differs from callback: ${k.jobs.getDiffersFromCallback}, results with overlapping/unordered segments: ${k.jobs.badSegmentOrder}`);
    L.push(`   upload -> callback latency p50 ${k.jobs.latencyP50S} s, p95 ${k.jobs.latencyP95S} s, max ${k.jobs.latencyMaxS} s; accuracy of the soak's results: ${k.accuracy.map((a) => `${a.lang} ${a.metric.toUpperCase()} ${pct(a.rate)} (${a.clips})`).join(', ')}`);
    const group = (resumed: boolean) => {
      const rows = k.jobs.perJob.filter((p) => p.errors !== null && p.resumed === resumed);
      const langs = [...new Set(rows.map((p) => p.file.split('/')[0]))].sort();
      return langs
        .map((l) => {
          const mine = rows.filter((p) => p.file.startsWith(`${l}/`));
          const e = sumOf(mine.map((p) => p.errors ?? 0));
          const n = sumOf(mine.map((p) => p.length ?? 0));
          return `${l} ${pct(n ? e / n : NaN)} (${mine.length})`;
        })
        .join(', ') || '-';
    };
    L.push(`   accuracy of jobs resumed from a checkpoint: ${group(true)}; of the others: ${group(false)}`);
    for (const l of k.jobs.lostDetail.slice(0, 10)) L.push(`   lost: ${l.token} ${l.file} ${l.state} ${l.message ?? ''}`);
    for (const d of k.jobs.completedTwiceDetail.slice(0, 10)) L.push(`   twice: ${d.token} ${d.file} delivery ids ${d.deliveryIds.join(',')} digests ${d.digests.join(',')}`);
    L.push(`   files left in the data dir's media/ after every job ended: ${k.jobs.mediaLeftBehind.length}${k.jobs.mediaLeftBehind.length ? ` (${k.jobs.mediaLeftBehind.slice(0, 5).join(', ')})` : ''}`);
    L.push(`   server log: ${k.settings.logPath}`, '');
  }
  L.push('Summary:');
  L.push(formatTable(['check', 'value', 'target', 'result'], r.checks.map((c) => [c.name, c.value, c.target, c.status])));
  if (r.error) L.push('', `ERROR: ${r.error}`);
  return L.join('\n');
}

export async function longformCli(argv: string[]): Promise<number> {
  const { values: a } = parseArgs({
    args: argv,
    options: {
      beam: { type: 'string', default: '5' },
      threads: { type: 'string', default: '2' },
      only: { type: 'string' },
      repeat: { type: 'string', default: '3' },
      'repeat-long': { type: 'string', default: '1' },
      'skip-server-rtf': { type: 'boolean', default: false },
      'skip-memory': { type: 'boolean', default: false },
      'quick-memory': { type: 'boolean', default: false },
      'skip-soak': { type: 'boolean', default: false },
      'soak-cycles': { type: 'string', default: '20' },
      'soak-kill': { type: 'string', default: 'server' },
      'soak-seed': { type: 'string' },
      'server-entry': { type: 'string', default: 'src/main.ts' },
      json: { type: 'boolean', default: false },
      strict: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (a.help) {
    console.log(HELP);
    return 0;
  }
  const beam = posInt('beam', a.beam, 5);
  const threads = posInt('threads', a.threads, 2);
  const repeatShort = posInt('repeat', a.repeat, 3);
  const repeatLong = posInt('repeat-long', a['repeat-long'], 1);
  const repeatsOf = (c: Clip) => (c.durationS < 120 ? repeatShort : repeatLong);
  const soakCycles = posInt('soak-cycles', a['soak-cycles'], 20);
  const killMode = a['soak-kill'];
  if (killMode !== 'server' && killMode !== 'group') throw new Error(`--soak-kill wants server or group, got ${killMode}`);
  let parts: Part[] = a.only ? (a.only.split(',').map((x) => x.trim()) as Part[]) : [...PARTS];
  for (const p of parts) if (!PARTS.includes(p)) throw new Error(`--only: unknown part ${p} (parts: ${PARTS.join(', ')})`);
  if (a['skip-memory']) parts = parts.filter((p) => p !== 'memory');
  if (a['skip-soak']) parts = parts.filter((p) => p !== 'soak');
  const entry = a['server-entry'] as string;

  const td = testdataDir();
  const md = modelsDir();
  const manifest = loadManifest(manifestPath(td));
  const byFile = new Map(manifest.map((e) => [e.file, e]));
  const need = (file: string) => {
    const e = byFile.get(file);
    if (!e) throw new Error(`${file} is not in ${manifestPath(td)}`);
    return clipFromEntry(e, td);
  };
  const long12 = need('ko/long_etts_lmy_12min.flac');
  const rtfFiles = [...manifest.filter((e) => /^en\/jobs_/.test(e.file)).map((e) => clipFromEntry(e, td)), long12];
  const segmentFiles = manifest.filter((e) => typeof e.segments === 'string').map((e) => clipFromEntry(e, td));

  const result: LongformBenchResult = {
    kind: 'sori-bench-longform',
    date: new Date().toISOString(),
    settings: { beam, threads, parts, repeat: { underTwoMinutes: repeatShort, longer: repeatLong }, serverRtf: !a['skip-server-rtf'], memory: a['quick-memory'] ? '1h vs 10min' : '2h vs 10min', soakCycles },
    normalisation: NORMALISATION_NOTE,
    machine: machineInfo(),
    checks: [],
  };
  mkdirSync(OUT_DIR, { recursive: true });
  const apiKey = `bench-${randomBytes(8).toString('hex')}`;
  const serverEnv: Record<string, string> = { SORI_HOST: '127.0.0.1', SORI_THREADS: String(threads), SORI_BEAM_SIZE: String(beam), SORI_LOG_LEVEL: 'info' };

  let engine: SpeechEngine | undefined;
  let server: ServerHandle | undefined;
  const longformSegments = new Map<string, { segments: LongformSegment[]; source: string }>();
  try {
    const inProcess = parts.some((p) => p === 'rtf' || p === 'cer' || p === 'boundaries');
    let vad: SileroVad | undefined;
    if (inProcess) {
      log(`loading Sori's engine (beam ${beam}, ${threads} threads) and Silero VAD from ${md}`);
      engine = await openEngine({ modelsDir: md, threads, beamSize: beam });
      vad = await loadVad(md);
    }

    // 1. RTF, file by file: bare, long-form in-process, then the server (sync upload).
    if (parts.includes('rtf') && engine && vad) {
      if (!a['skip-server-rtf']) {
        log(`starting the server (${entry}) for the sync-upload column`);
        server = await startServer({ apiKey, modelsDir: md, env: serverEnv, entry, logPath: join(OUT_DIR, 'longform-rtf-server.log') });
      }
      const files: RtfFile[] = [];
      for (const c of rtfFiles) {
        const bareS: number[] = [];
        const lfS: number[] = [];
        const srvS: number[] = [];
        let bareText = '';
        let lfText = '';
        let lfSegs: LongformSegment[] = [];
        let srvText: string | null = null;
        let serverError: string | undefined;
        const repeat = repeatsOf(c);
        for (let i = 0; i < repeat; i++) {
          const steps: Array<() => Promise<void>> = [
            async () => {
              const b = await runBare(engine as SpeechEngine, c.path, c.lang, beam);
              bareS.push(b.procS);
              bareText = b.text;
              log(`${c.file}: bare ${b.procS.toFixed(1)} s (RTF ${(b.procS / c.durationS).toFixed(4)})`);
            },
            async () => {
              const l = await runLongform(engine as SpeechEngine, vad as SileroVad, c.path, c.lang);
              lfS.push(l.procS);
              lfText = l.text;
              lfSegs = l.segments;
              log(`${c.file}: long-form ${l.procS.toFixed(1)} s (RTF ${(l.procS / c.durationS).toFixed(4)}), ${l.segments.length} segments`);
            },
          ];
          if (server) {
            const srv = server;
            steps.push(async () => {
              const up = await uploadLongform(srv.baseUrl, apiKey, c.path, { language: LONGFORM_LANG[c.lang], completion: 'sync' });
              if (up.status === 200 && up.body?.result === 'COMPLETED') {
                srvS.push(up.latencyS);
                srvText = resultText(up.body);
                if (!longformSegments.has(`server:${c.file}`)) longformSegments.set(`server:${c.file}`, { segments: up.body.segments ?? [], source: 'server' });
                log(`${c.file}: server ${up.latencyS.toFixed(1)} s (RTF ${(up.latencyS / c.durationS).toFixed(4)})`);
              } else {
                serverError = `HTTP ${up.status} ${up.raw.slice(0, 200) || up.error}`;
                log(`${c.file}: server failed: ${serverError}`);
              }
            });
          }
          // Alternating order on repeats, so that drift in load does not favour one side.
          if (i % 2 === 1) steps.reverse();
          for (const step of steps) await step();
        }
        longformSegments.set(c.file, { segments: lfSegs, source: 'in-process' });
        const audio = c.durationS * repeat;
        files.push({
          file: c.file,
          lang: c.lang,
          runs: repeat,
          audioS: c.durationS,
          bareS: bareS.map((x) => round(x, 3)),
          longformS: lfS.map((x) => round(x, 3)),
          serverS: srvS.map((x) => round(x, 3)),
          bareRtf: sumOf(bareS) / audio,
          longformRtf: sumOf(lfS) / audio,
          serverRtf: srvS.length === repeat ? sumOf(srvS) / audio : null,
          ratio: sumOf(lfS) / sumOf(bareS),
          serverRatio: srvS.length === repeat ? sumOf(srvS) / sumOf(bareS) : null,
          longformSegments: lfSegs.length,
          bareScore: scoreOf(c, bareText),
          longformScore: scoreOf(c, lfText),
          serverScore: srvText === null ? null : scoreOf(c, srvText),
          ...(serverError ? { serverError } : {}),
        });
      }
      const audioS = sumOf(files.map((f) => f.audioS * f.runs));
      const bareS = sumOf(files.map((f) => sumOf(f.bareS)));
      const lfS = sumOf(files.map((f) => sumOf(f.longformS)));
      const srvOk = files.every((f) => f.serverRtf !== null);
      const srvS = srvOk && server ? sumOf(files.map((f) => sumOf(f.serverS))) : null;
      result.rtf = { files, total: { audioS, bareS: round(bareS, 3), longformS: round(lfS, 3), serverS: srvS === null ? null : round(srvS, 3), ratio: lfS / bareS, serverRatio: srvS === null ? null : srvS / bareS } };
      if (server) {
        await server.stop();
        server = undefined;
      }
    }

    // 3 (before 2, while the engine is warm on long files). Boundaries of every joined file.
    if (parts.includes('boundaries') && engine && vad) {
      result.boundaries = [];
      for (const c of segmentFiles) {
        let got = longformSegments.get(c.file);
        if (!got) {
          const l = await runLongform(engine, vad, c.path, c.lang);
          log(`${c.file}: long-form ${l.procS.toFixed(1)} s, ${l.segments.length} segments`);
          got = { segments: l.segments, source: 'in-process' };
          longformSegments.set(c.file, got);
        }
        const refs = JSON.parse(readFileSync(resolve(td, c.entry.segments as string), 'utf8')) as { start: number; end: number }[];
        const rec = boundaryRecall(refs.map((x) => ({ start: x.start, end: x.end })), spansFromMs(got.segments), LONGFORM_TARGETS.boundaryToleranceS);
        const missed = rec.matches
          .filter((m) => !m.found)
          .map((m) => ({ index: m.index, boundary: [round(m.boundary.start, 2), round(m.boundary.end, 2)] as [number, number], nearestGap: m.nearest ? ([round(m.nearest.start, 2), round(m.nearest.end, 2)] as [number, number]) : null, distanceS: round(m.distanceS, 3) }));
        result.boundaries.push({ file: c.file, source: got.source, references: refs.length, outputSegments: got.segments.length, recall: { ...rec, matches: [] }, missed });
        const srvSegs = longformSegments.get(`server:${c.file}`);
        if (srvSegs) {
          const r2 = boundaryRecall(refs, spansFromMs(srvSegs.segments), LONGFORM_TARGETS.boundaryToleranceS);
          result.boundaries.push({ file: c.file, source: 'server', references: refs.length, outputSegments: srvSegs.segments.length, recall: { ...r2, matches: [] }, missed: [] });
        }
      }
    }

    // 2. CER: the 12-minute file through long-form against the quick Korean clips.
    if (parts.includes('cer') && engine && vad) {
      let lfSegs = longformSegments.get(long12.file)?.segments;
      if (!lfSegs) {
        const l = await runLongform(engine, vad, long12.path, long12.lang);
        log(`${long12.file}: long-form ${l.procS.toFixed(1)} s`);
        lfSegs = l.segments;
        longformSegments.set(long12.file, { segments: lfSegs, source: 'in-process' });
      }
      const quick = selectClips(manifest, td, { tag: 'quick', lang: 'ko', maxS: 60 });
      const run: EngineRun = await runEngine(engine, await loadDecoder(), quick, { beamSize: beam, threads, label: `quick ko beam ${beam}` });
      const ko = run.rates.find((x) => x.lang === 'ko');
      const bare12 = result.rtf?.files.find((f) => f.file === long12.file)?.bareScore ?? null;
      result.cer = {
        longform: { file: long12.file, score: scoreOf(long12, lfSegs.map((s) => s.text).join(' ')) },
        bare12min: bare12,
        quickKo: ko ? { clips: ko.clips, errors: ko.errors, length: ko.length, rate: ko.rate, rtf: run.rtf } : null,
      };
    }
    if (engine) {
      await engine.close();
      engine = undefined;
    }

    // 4. Memory: 10 minutes, then 2 hours (1 hour with --quick-memory), each on a fresh server.
    if (parts.includes('memory')) {
      const longS = a['quick-memory'] ? 3600 : 7200;
      const short = await loopedFile(long12.path, 600, '10min');
      const long = await loopedFile(long12.path, longS, longS === 7200 ? '2h' : '1h');
      const run = (f: typeof short, label: string) =>
        memoryRun({ label, file: f.path, audioS: f.durationS, bytes: f.bytes, language: 'ko-KR', apiKey, modelsDir: md, env: serverEnv, entry, logPath: join(OUT_DIR, `longform-memory-${label}.log`) });
      const m10 = await run(short, '10min');
      const mLong = await run(long, longS === 7200 ? '2h' : '1h');
      result.memory = { short: m10, long: mLong, ratio: mLong.peakTreeMb / m10.peakTreeMb };
    } else result.memory = { skipped: true };

    // 5. Soak.
    if (parts.includes('soak')) {
      const pool = soakJobPool(manifest, td);
      const seed = a['soak-seed'] !== undefined ? Number(a['soak-seed']) : randomBytes(4).readUInt32LE(0);
      log(`soak: ${soakCycles} cycles, kill mode ${killMode}, seed ${seed}, pool of ${pool.length} files`);
      result.soak = await runSoak({
        cycles: soakCycles,
        apiKey,
        modelsDir: md,
        env: serverEnv,
        entry,
        logPath: join(OUT_DIR, 'longform-soak-server.log'),
        pool,
        killDelayS: [3, 25],
        killMode,
        submitEveryMs: 2500,
        maxOutstanding: 6,
        drainTimeoutS: 900,
        orphanWaitMs: 5000,
        seed,
      });
    } else result.soak = { skipped: true };
  } catch (err) {
    result.error = err instanceof Error ? err.message : String(err);
    log(`ERROR: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  } finally {
    if (engine) await engine.close().catch(() => undefined);
    if (server) await server.stop().catch(() => undefined);
  }

  result.checks = checksOf(result);
  return finishRun('bench-longform', result, report, a);
}

function isEntryPoint(): boolean {
  const entry = process.argv[1];
  return entry !== undefined && import.meta.url === pathToFileURL(resolve(entry)).href;
}

if (isEntryPoint()) {
  longformCli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err instanceof Error ? (err.stack ?? err.message) : err);
      process.exit(1);
    },
  );
}
