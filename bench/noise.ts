/**
 * Does denoising before recognition help Sori's recogniser? (CLOVA's `noiseFiltering`.)
 *
 *   SORI_MODELS_DIR=/work/shared/models node --import tsx bench/noise.ts [--lang ko] [--limit N]
 *     [--noise white,pink,brown] [--filters afftdn,afftdn-tn,...] [--snr 5] [--budget-s 240]
 *     [--report] [--fresh] [--json]
 *
 * Conditions, each decoded by ffmpeg the way the server decodes (ffmpegInputArgs, the filter's
 * `-af`, PCM_OUTPUT_ARGS) and recognised by the same engine settings (WhisperTranscriber
 * in-process, beam 5, temperature fallback on, 2 threads):
 *   clean, clean+<filter>, <noise>, <noise>+<filter>  for every noise colour and candidate filter.
 * The noisy clips are the quick-set clips mixed with sox noise at --snr dB (bench/lib/noise-mixes.ts),
 * generated into a temp folder that is removed at the end.
 *
 * Results are kept per (clip, condition, filter chain, settings) in .bench/noise-results.json,
 * so a long measurement can run as several short invocations: each stops after --budget-s
 * seconds of work and the next one continues (on a shared machine, keep each run short).
 * The table covers the clips that have every condition, so all rows compare the same clips.
 *
 * Decision rule (the product issue): keep denoising only if it lowers the error rate on the
 * noisy mixes AND raises it on clean clips by no more than 0.5 point.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { decodeFile, ffmpegInputArgs, PCM_OUTPUT_ARGS } from '../src/media/decode.js';
import { ffmpegFilterArgs } from '../src/media/denoise.js';
import { loadWhisperModel } from '../src/speech/whisper/model.js';
import { WhisperTranscriber } from '../src/speech/whisper/transcriber.js';
import { loadManifest, manifestPath, selectClips, type Clip } from './lib/manifest.js';
import { isNoiseKind, makeMixes, NOISE_KINDS, type NoiseKind } from './lib/noise-mixes.js';
import { modelsDir, OUT_DIR, testdataDir } from './lib/paths.js';
import { log } from './lib/progress.js';
import { metricFor, NORMALISATION_NOTE, scoreClip } from './lib/score.js';
import { round, since } from './lib/stats.js';
import { formatTable, pct } from './lib/table.js';

/** Candidate filter chains (ffmpeg 5.1 from Debian; nothing downloaded). */
const CANDIDATES: Record<string, string> = {
  // afftdn with its defaults (nr 12 dB, noise floor -50 dB, no tracking).
  afftdn: 'afftdn',
  // afftdn with a noise floor near that of the 5 dB mixes, and noise-floor tracking.
  'afftdn-tn': 'afftdn=nr=12:nf=-30:tn=1',
  'hp-afftdn-tn': 'highpass=f=80,afftdn=nr=12:nf=-30:tn=1',
  // Stronger: the setting that raised the waveform SNR of the pink mixes most in a probe
  // (5.0 -> 7.0 dB; white 5.6, brown 4.8); afftdn gained at most ~2 dB in any setting tried.
  'afftdn-nr30': 'afftdn=nr=30:nf=-25:tn=1',
  // Non-local means: the default strength (1e-5) barely changes the signal; s=10 is the
  // strength that raised the white mixes' waveform SNR most in the probe (5.0 -> 6.8 dB).
  anlmdn: 'anlmdn',
  'anlmdn-s10': 'anlmdn=s=10',
  // A plain speech band limit.
  band: 'highpass=f=80,lowpass=f=6000',
};

const MODEL = 'whisper-base';
const RESULTS_FILE = join(OUT_DIR, 'noise-results.json');
const RESULTS_VERSION = 1;

const { values: a } = parseArgs({
  options: {
    lang: { type: 'string', default: 'ko' },
    tag: { type: 'string', default: 'quick' },
    limit: { type: 'string' },
    'max-s': { type: 'string', default: '60' },
    noise: { type: 'string', default: NOISE_KINDS.join(',') },
    filters: { type: 'string', default: Object.keys(CANDIDATES).join(',') },
    'no-clean': { type: 'boolean', default: false },
    snr: { type: 'string', default: '5' },
    beam: { type: 'string', default: '5' },
    threads: { type: 'string', default: '2' },
    'budget-s': { type: 'string', default: '240' },
    report: { type: 'boolean', default: false },
    fresh: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (a.help) {
  console.log(
    'usage: node --import tsx bench/noise.ts [--lang ko] [--limit N] [--noise white,pink,brown] ' +
      `[--filters ${Object.keys(CANDIDATES).join(',')}] [--no-clean] [--snr 5] [--beam 5] [--threads 2] ` +
      '[--budget-s 240] [--report] [--fresh] [--json]',
  );
  process.exit(0);
}

function positive(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!(n > 0)) throw new Error(`--${name} wants a positive number, got ${v}`);
  return n;
}

function list(v: string | undefined): string[] {
  return (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

/** One recognised (clip, condition). */
interface Entry {
  file: string;
  lang: string;
  base: string; // 'clean' or a noise kind
  candidate: string | null;
  filter: string | null;
  snrDb: number | null; // measured SNR of the mix (noisy bases)
  text: string;
  errors: number;
  length: number;
  decodeS: number;
  asrS: number;
  durationS: number;
}

interface Store {
  version: number;
  entries: Record<string, Entry>;
}

interface Settings {
  beam: number;
  threads: number;
  targetSnr: number;
}

function keyOf(s: Settings, lang: string, file: string, base: string, filter: string | null): string {
  // The settings that change the result are in the key; threads do not (same ops, same order).
  const snr = base === 'clean' ? '' : `@${s.targetSnr}dB`;
  return [MODEL, `beam${s.beam}`, lang, file, base + snr, filter ?? '-'].join('|');
}

function loadStore(fresh: boolean): Store {
  if (!fresh && existsSync(RESULTS_FILE)) {
    const s = JSON.parse(readFileSync(RESULTS_FILE, 'utf8')) as Store;
    if (s.version === RESULTS_VERSION) return s;
  }
  return { version: RESULTS_VERSION, entries: {} };
}

function saveStore(s: Store): void {
  mkdirSync(OUT_DIR, { recursive: true });
  const tmp = RESULTS_FILE + '.tmp';
  writeFileSync(tmp, JSON.stringify(s) + '\n');
  renameSync(tmp, RESULTS_FILE);
}

/** The server's decode (same input guard and PCM output), with the filter's `-af` spliced in. */
async function decodeWithFilter(path: string, filter: string | null): Promise<Float32Array> {
  const args = [
    '-nostdin', '-hide_banner', '-loglevel', 'error',
    ...(await ffmpegInputArgs(path)),
    ...ffmpegFilterArgs(filter ?? undefined),
    ...PCM_OUTPUT_ARGS,
  ];
  const child = spawn('ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks: Buffer[] = [];
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => chunks.push(c));
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (t: string) => (stderr += t));
  const code = await new Promise<number | null>((res, rej) => {
    child.on('error', rej);
    child.on('close', res);
  });
  if (code !== 0) throw new Error(`ffmpeg failed on ${path} with ${filter ?? 'no filter'}: ${stderr.slice(-500)}`);
  const buf = Buffer.concat(chunks);
  const pcm = new Float32Array(Math.floor(buf.length / 4));
  new Uint8Array(pcm.buffer).set(buf.subarray(0, pcm.length * 4));
  for (let i = 0; i < pcm.length; i++) pcm[i] = Math.max(-1, Math.min(1, pcm[i] || 0));
  return pcm;
}

interface Condition {
  base: string;
  candidate: string | null;
  filter: string | null;
}

function conditionName(c: Condition): string {
  return c.candidate ? `${c.base}+${c.candidate}` : c.base;
}

async function measure(
  clips: readonly Clip[],
  conditions: readonly Condition[],
  kinds: readonly NoiseKind[],
  s: Settings,
  store: Store,
  budgetS: number,
): Promise<boolean> {
  const pending = clips.filter((c) => conditions.some((k) => !store.entries[keyOf(s, c.lang, c.file, k.base, k.filter)]));
  if (pending.length === 0) return true;
  log(`${pending.length}/${clips.length} clips have conditions left to run`);

  const work = await mkdtemp(join(tmpdir(), 'sori-noise-'));
  const cleanup = () => void rm(work, { recursive: true, force: true });
  process.once('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  try {
    const index = new Map(clips.map((c, i) => [c.file, i]));
    const mixes = new Map<string, { path: string; snrDb: number }>();
    if (kinds.length > 0) {
      const cleanPcm = [];
      for (const c of pending) cleanPcm.push({ file: c.file, index: index.get(c.file) ?? 0, clean: (await decodeFile(c.path)).pcm });
      for (const m of await makeMixes(cleanPcm, kinds, s.targetSnr, work)) mixes.set(`${m.kind}|${m.file}`, m);
      log(`${mixes.size} mixes at ${s.targetSnr} dB written to ${work}`);
    }

    const t0 = performance.now();
    const model = await loadWhisperModel(join(modelsDir(), MODEL), MODEL, s.threads);
    const tr = new WhisperTranscriber(model);
    await tr.transcribe(new Float32Array(16000), { language: 'en', beamSize: 1, wordTimestamps: false, temperatureFallback: false });
    log(`model loaded in ${since(t0).toFixed(1)} s`);

    const started = performance.now();
    let done = 0;
    for (const c of pending) {
      if (since(started) > budgetS) {
        log(`budget of ${budgetS} s used: stopping after ${done} clips; run again to continue`);
        return false;
      }
      for (const k of conditions) {
        const key = keyOf(s, c.lang, c.file, k.base, k.filter);
        if (store.entries[key]) continue;
        const mix = k.base === 'clean' ? undefined : mixes.get(`${k.base}|${c.file}`);
        if (k.base !== 'clean' && !mix) throw new Error(`no ${k.base} mix for ${c.file}`);
        const td = performance.now();
        const pcm = await decodeWithFilter(mix?.path ?? c.path, k.filter);
        const decodeS = since(td);
        const ta = performance.now();
        const out = await tr.transcribe(pcm, { language: c.lang, beamSize: s.beam, wordTimestamps: false, temperatureFallback: true });
        const asrS = since(ta);
        const score = scoreClip({ lang: c.lang, reference: c.reference, referenceSpelled: c.referenceSpelled }, out.text);
        store.entries[key] = {
          file: c.file, lang: c.lang, base: k.base, candidate: k.candidate, filter: k.filter,
          snrDb: mix ? round(mix.snrDb, 3) : null, text: out.text, errors: score.errors, length: score.length,
          decodeS: round(decodeS, 4), asrS: round(asrS, 3), durationS: pcm.length / 16000,
        };
      }
      saveStore(store);
      done += 1;
      log(`${done}/${pending.length} ${c.file} (${since(started).toFixed(0)} s)`);
    }
    return true;
  } finally {
    cleanup();
  }
}

interface Row {
  condition: string;
  base: string;
  candidate: string | null;
  filter: string | null;
  clips: number;
  errors: number;
  length: number;
  rate: number;
  /** Points against the same audio without a filter (filtered rows only). */
  delta: number | null;
  meanSnrDb: number | null;
  /** ffmpeg decode (with the filter) seconds per audio second. */
  decodeRtf: number;
  asrRtf: number;
}

function summarise(clips: readonly Clip[], conditions: readonly Condition[], s: Settings, store: Store) {
  const get = (c: Clip, k: Condition) => store.entries[keyOf(s, c.lang, c.file, k.base, k.filter)];
  const complete = clips.filter((c) => conditions.every((k) => get(c, k)));
  const rows: Row[] = conditions.map((k) => {
    const es = complete.map((c) => get(c, k));
    const errors = es.reduce((t, e) => t + e.errors, 0);
    const length = es.reduce((t, e) => t + e.length, 0);
    const audio = es.reduce((t, e) => t + e.durationS, 0);
    const snrs = es.map((e) => e.snrDb).filter((x): x is number => x !== null);
    return {
      condition: conditionName(k), base: k.base, candidate: k.candidate, filter: k.filter,
      clips: es.length, errors, length, rate: length > 0 ? errors / length : NaN, delta: null,
      meanSnrDb: snrs.length > 0 ? snrs.reduce((t, x) => t + x, 0) / snrs.length : null,
      decodeRtf: es.reduce((t, e) => t + e.decodeS, 0) / audio,
      asrRtf: es.reduce((t, e) => t + e.asrS, 0) / audio,
    };
  });
  for (const r of rows) {
    const plain = rows.find((x) => x.base === r.base && x.candidate === null);
    if (r.candidate && plain) r.delta = (r.rate - plain.rate) * 100;
  }

  // Per candidate: clean delta, pooled noisy delta (sum of errors over every colour), verdict.
  const candidates = [...new Set(conditions.map((k) => k.candidate).filter((x): x is string => x !== null))];
  const pooled = (cand: string | null) => {
    const rs = rows.filter((r) => r.base !== 'clean' && r.candidate === cand);
    const e = rs.reduce((t, r) => t + r.errors, 0);
    const l = rs.reduce((t, r) => t + r.length, 0);
    return rs.length > 0 && l > 0 ? e / l : NaN;
  };
  const cleanRate = rows.find((r) => r.base === 'clean' && r.candidate === null)?.rate ?? NaN;
  const noisyRate = pooled(null);
  // Per clip (errors, length) of a candidate on clean audio, and summed over the noise colours.
  const noisyBases = [...new Set(conditions.map((k) => k.base).filter((b) => b !== 'clean'))];
  const perClip = (cand: string | null, which: 'clean' | 'noisy'): [number, number][] =>
    complete.map((c) => {
      let e = 0;
      let l = 0;
      for (const base of which === 'clean' ? ['clean'] : noisyBases) {
        const k = conditions.find((x) => x.base === base && x.candidate === cand);
        const entry = k ? get(c, k) : undefined;
        if (entry) {
          e += entry.errors;
          l += entry.length;
        }
      }
      return [e, l];
    });
  const hasClean = conditions.some((k) => k.base === 'clean');
  const verdicts = candidates.map((cand) => {
    const cleanDelta = ((rows.find((r) => r.base === 'clean' && r.candidate === cand)?.rate ?? NaN) - cleanRate) * 100;
    const noisyDelta = (pooled(cand) - noisyRate) * 100;
    const helpsNoisy = noisyDelta < 0;
    const cleanOk = cleanDelta <= 0.5;
    return {
      candidate: cand, filter: CANDIDATES[cand], cleanDelta, noisyDelta,
      cleanCi: hasClean ? pairedBootstrapCi(perClip(null, 'clean'), perClip(cand, 'clean')) : null,
      noisyCi: noisyBases.length > 0 ? pairedBootstrapCi(perClip(null, 'noisy'), perClip(cand, 'noisy')) : null,
      keep: Number.isFinite(cleanDelta) && Number.isFinite(noisyDelta) && helpsNoisy && cleanOk,
    };
  });
  return { complete: complete.length, rows, verdicts, cleanRate, noisyRate };
}

/**
 * 95% interval of the corpus-rate difference (b - a, in points) by a paired bootstrap over
 * clips (2000 resamples, fixed seed): how far the delta could move on another draw of clips.
 */
function pairedBootstrapCi(a: readonly [number, number][], b: readonly [number, number][]): [number, number] | null {
  const n = a.length;
  if (n < 2) return null;
  let seed = 12345;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  const ds: number[] = [];
  for (let r = 0; r < 2000; r++) {
    let ea = 0;
    let eb = 0;
    let la = 0;
    let lb = 0;
    for (let i = 0; i < n; i++) {
      const j = Math.floor(rand() * n);
      ea += a[j][0];
      la += a[j][1];
      eb += b[j][0];
      lb += b[j][1];
    }
    if (la > 0 && lb > 0) ds.push((eb / lb - ea / la) * 100);
  }
  ds.sort((x, y) => x - y);
  return [ds[Math.floor(ds.length * 0.025)], ds[Math.min(ds.length - 1, Math.floor(ds.length * 0.975))]];
}

const ci = (x: [number, number] | null) => (x === null ? '-' : `[${signed(x[0])}, ${signed(x[1])}]`);

const signed = (x: number | null) => (x === null || !Number.isFinite(x) ? '' : `${x >= 0 ? '+' : ''}${x.toFixed(1)}`);

async function main(): Promise<void> {
  const lang = a.lang;
  const settings: Settings = {
    beam: positive('beam', a.beam) ?? 5,
    threads: positive('threads', a.threads) ?? 2,
    targetSnr: Number(a.snr),
  };
  if (!Number.isFinite(settings.targetSnr)) throw new Error(`--snr wants a number, got ${a.snr}`);
  const kinds = list(a.noise).map((k) => {
    if (!isNoiseKind(k)) throw new Error(`unknown noise "${k}" (known: ${NOISE_KINDS.join(', ')})`);
    return k;
  });
  const cands = list(a.filters).map((f) => {
    if (!(f in CANDIDATES)) throw new Error(`unknown filter "${f}" (known: ${Object.keys(CANDIDATES).join(', ')})`);
    return f;
  });
  const bases = [...(a['no-clean'] ? [] : ['clean']), ...kinds];
  const conditions: Condition[] = bases.flatMap((base) => [
    { base, candidate: null, filter: null },
    ...cands.map((c) => ({ base, candidate: c, filter: CANDIDATES[c] })),
  ]);

  const td = testdataDir();
  const clips = selectClips(loadManifest(manifestPath(td)), td, {
    tag: a.tag, lang, maxS: Number(a['max-s']), limit: positive('limit', a.limit),
  });
  if (clips.length === 0) throw new Error('no clips match');

  const store = loadStore(a.fresh);
  let finished = true;
  if (!a.report) finished = await measure(clips, conditions, kinds, settings, store, positive('budget-s', a['budget-s']) ?? 240);

  const sum = summarise(clips, conditions, settings, store);
  const metric = metricFor(lang ?? 'ko').toUpperCase();
  if (a.json) {
    console.log(JSON.stringify({ lang, settings, clips: clips.length, finished, ...sum }));
    return;
  }
  console.log(
    `noise bench: ${lang} ${a.tag}, ${sum.complete}/${clips.length} clips with every condition` +
      `${finished ? '' : ' (incomplete: run again to continue)'}; ${MODEL} int8, beam ${settings.beam}, ` +
      `temperature fallback on, ${settings.threads} threads; noisy = clip + sox noise at ${settings.targetSnr} dB ` +
      `(whole-clip speech power vs noise power)`,
  );
  console.log(NORMALISATION_NOTE);
  console.log(
    formatTable(
      ['condition', 'filter', 'SNR dB', metric, 'errors/len', 'Δ pts', 'ffmpeg RTF', 'ASR RTF'],
      sum.rows.map((r) => [
        r.condition, r.filter ?? '-', r.meanSnrDb === null ? '-' : r.meanSnrDb.toFixed(1), pct(r.rate, 2),
        `${r.errors}/${r.length}`, r.delta === null ? '-' : signed(r.delta), r.decodeRtf.toFixed(4), r.asrRtf.toFixed(3),
      ]),
    ),
  );
  console.log(`\nclean ${metric} ${pct(sum.cleanRate, 2)}; noisy ${metric} pooled over ${kinds.join('+')} ${pct(sum.noisyRate, 2)}`);
  console.log('rule: keep only if the noisy rate falls AND the clean rate rises by <= 0.5 point');
  console.log('95% CI: paired bootstrap over clips of the delta (2000 resamples)');
  console.log(
    formatTable(
      ['candidate', 'Δ clean pts', '95% CI', 'Δ noisy pts', '95% CI', 'keep'],
      sum.verdicts.map((v) => [
        v.candidate, signed(v.cleanDelta), ci(v.cleanCi), signed(v.noisyDelta), ci(v.noisyCi), v.keep ? 'yes' : 'no',
      ]),
    ),
  );
  console.log(`\nresults: ${RESULTS_FILE}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
