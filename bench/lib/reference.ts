/**
 * The reference engine (faster-whisper int8, same Whisper base weights), run through the
 * project's own shared scripts so its figures are the ones everybody quotes.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { log } from './progress.js';
import { runCollect } from './children.js';
import type { RunTotals } from './stats.js';

export interface ReferenceSetup {
  python: string;
  script: string;
  modelDir: string;
}

export interface ReferenceRun extends RunTotals {
  /** cer_ko, wer_en, ... as reference.py prints them (fractions). */
  rates: Record<string, number>;
  /** Peak RSS of the reference.py process, MB (see PEAK_RSS_METHOD). */
  peakRssMb: number | null;
  /** Whole process, model load included. */
  wallS: number;
}

export const PEAK_RSS_METHOD =
  'reference.py runs under a tiny Python parent that reports resource.getrusage(RUSAGE_CHILDREN).ru_maxrss ' +
  '(the kernel peak RSS of the finished child, model load included)';

/** setup-reference.sh is idempotent and quick once done; it installs on a fresh machine. */
export async function setupReference(refDir: string): Promise<ReferenceSetup> {
  log(`reference: bash ${join(refDir, 'setup-reference.sh')}`);
  const out = await runCollect('bash', [join(refDir, 'setup-reference.sh')], { echoStderr: true });
  if (out.code !== 0) throw new Error(`setup-reference.sh failed (exit ${out.code}):\n${out.stdout}\n${out.stderr}`);
  // "reference ready: PYTHON .../reference.py MANIFEST MODEL_DIR"
  const m = /reference ready: (\S+) \S+ MANIFEST (\S+)/.exec(out.stdout);
  const dir = join(homedir(), '.cache', 'sori-reference');
  return {
    python: m?.[1] ?? join(dir, 'venv', 'bin', 'python'),
    modelDir: m?.[2] ?? join(dir, 'whisper-base-ct2'),
    script: join(refDir, 'reference.py'),
  };
}

const MAXRSS_MARK = 'SORI_BENCH_MAXRSS_KB=';
// ru_maxrss is in KiB on Linux. The parent is not counted, only the waited-for child.
const RSS_WRAPPER = [
  'import resource, subprocess, sys',
  'rc = subprocess.call(sys.argv[1:])',
  `print("${MAXRSS_MARK}%d" % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, flush=True)`,
  'sys.exit(rc)',
].join('\n');

export async function runReference(
  setup: ReferenceSetup,
  manifest: string,
  opts: { beam: number; threads: number; maxS: number },
): Promise<ReferenceRun> {
  const args = [
    '-c',
    RSS_WRAPPER,
    setup.python,
    setup.script,
    manifest,
    setup.modelDir,
    '--beam',
    String(opts.beam),
    '--threads',
    String(opts.threads),
    '--max-s',
    String(opts.maxS),
  ];
  log(`reference: faster-whisper beam ${opts.beam}, ${opts.threads} threads (no progress until it ends)`);
  const t0 = performance.now();
  const beat = setInterval(() => log(`reference beam ${opts.beam}: running, ${Math.round((performance.now() - t0) / 1000)} s`), 30_000);
  let out;
  try {
    out = await runCollect(setup.python, args, {});
  } finally {
    clearInterval(beat);
  }
  const wallS = (performance.now() - t0) / 1000;
  if (out.code !== 0) throw new Error(`reference.py failed (exit ${out.code}):\n${out.stderr.slice(-4000)}`);
  const lines = out.stdout.split('\n');
  const jsonLine = lines.find((l) => l.trim().startsWith('{'));
  if (!jsonLine) throw new Error(`reference.py printed no JSON line:\n${out.stdout}\n${out.stderr.slice(-2000)}`);
  const j = JSON.parse(jsonLine) as Record<string, number | string>;
  const rssLine = lines.find((l) => l.startsWith(MAXRSS_MARK));
  const rates: Record<string, number> = {};
  for (const [k, v] of Object.entries(j)) if (/^(cer|wer)_/.test(k) && typeof v === 'number') rates[k] = v;
  return {
    engine: String(j.engine),
    beam: Number(j.beam),
    threads: Number(j.threads),
    clips: Number(j.clips),
    audioS: Number(j.audio_s),
    procS: Number(j.proc_s),
    rtf: Number(j.rtf),
    rates,
    peakRssMb: rssLine ? Number(rssLine.slice(MAXRSS_MARK.length)) / 1024 : null,
    wallS,
  };
}
