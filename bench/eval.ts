/**
 * npm run eval -- [--tag quick | --all] [--lang ko] [--limit N] [--beam 5] [--threads 2] [--json] [--verbose]
 *                 [--sections asr,diarization,events,noise,boosting,assessment]
 * Accuracy (CER/WER) and speed (RTF) of Sori's engine in-process on the shared test clips,
 * scored exactly as ../shared/bench/reference.py scores the reference engine. Then, one section
 * each, the transcript-enrichment figures from their own benches, run as they are run alone:
 * diarization DER (bench/diarization.ts), sound events (bench/events.ts), the noise-filter A/B
 * (bench/noise.ts, Korean quick set, the best candidate against none), keyword-boosting recall
 * (bench/boosting.ts) and pronunciation assessment (bench/assessment.ts English with its synthetic
 * mispronunciations, bench/assessment-ko.ts Korean, bench/assessment-cost.ts what it adds to a
 * short request through the engine).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadManifest, manifestPath, selectClips, type Clip } from './lib/manifest.js';
import { modelsDir, testdataDir } from './lib/paths.js';
import { NORMALISATION_NOTE, metricFor } from './lib/score.js';
import { loadDecoder, openEngine, runEngine, type EngineRun } from './lib/sori.js';
import { formatTable, pct, fixed } from './lib/table.js';
import { machineInfo, writeLatest } from './lib/output.js';
import { log } from './lib/progress.js';
import { round } from './lib/stats.js';

const { values: a } = parseArgs({
  options: {
    tag: { type: 'string', default: 'quick' },
    all: { type: 'boolean', default: false },
    lang: { type: 'string' },
    limit: { type: 'string' },
    beam: { type: 'string', default: '5' },
    threads: { type: 'string', default: '2' },
    'max-s': { type: 'string', default: '60' },
    json: { type: 'boolean', default: false },
    sections: { type: 'string', default: 'asr,diarization,events,noise,boosting,assessment' },
    verbose: { type: 'boolean', short: 'v', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (a.help) {
  console.log('usage: npm run eval -- [--tag quick | --all] [--lang ko|en|ja|zh] [--limit N] [--beam 5] [--threads 2] [--max-s 60] [--json] [--verbose]');
  console.log('       [--sections asr,diarization,events,noise,boosting,assessment] (default: all; --json covers asr only)');
  process.exit(0);
}

/** The enrichment sections: each bench as run alone (see its header), from this repository. */
interface Section {
  title: string;
  script: string;
  args: string[];
  /** Further benches run after `script`, in order, as part of the same section. */
  then?: { script: string; args: string[] }[];
}

const SECTIONS: Record<string, Section | null> = {
  asr: null,
  diarization: {
    title: 'Speaker diarization: DER per file and per half, in-process and through the API; short turns; non-speech',
    script: 'fetch-diarization-data.ts',
    args: [],
    then: [
      { script: 'diarization.ts', args: [] },
      { script: 'diarization-api.ts', args: [] },
    ],
  },
  events: { title: 'Sound events: detection and onset on mixes, events on speech alone', script: 'events.ts', args: [] },
  noise: {
    title: 'Noise filtering A/B: the best measured filter against none, Korean quick set, 5 dB SNR',
    script: 'noise.ts',
    args: ['--lang', 'ko', '--filters', 'afftdn-tn', '--budget-s', '3600'],
  },
  boosting: { title: 'Keyword boosting: recall of missed words, CER of clips without keywords', script: 'boosting.ts', args: [] },
  assessment: {
    title: 'Pronunciation assessment (English, Korean): matched vs mismatched AUC, swapped word, synthetic mispronunciation, cost',
    script: 'assessment.ts',
    args: [],
    then: [
      { script: 'assessment-ko.ts', args: [] },
      { script: 'assessment-cost.ts', args: [] },
    ],
  },
};

function runSection(name: string): boolean {
  const section = SECTIONS[name];
  if (section === null || section === undefined) return true;
  console.log(`\n== ${name}: ${section.title}`);
  let ok = true;
  for (const [i, step] of [{ script: section.script, args: section.args }, ...(section.then ?? [])].entries()) {
    const script = fileURLToPath(new URL(step.script, import.meta.url));
    if (i > 0) console.log('');
    const r = spawnSync(process.execPath, ['--import', 'tsx', script, ...step.args], { stdio: 'inherit' });
    if (r.status !== 0) console.log(`(${name}: ${step.script} failed: exit ${r.status ?? r.signal})`);
    ok &&= r.status === 0;
  }
  return ok;
}

function int(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} wants a positive integer, got ${v}`);
  return n;
}

interface LangRow {
  lang: string;
  metric: string;
  clips: number;
  audioS: number;
  procS: number;
  rtf: number;
  errors: number;
  length: number;
  rate: number;
}

function perLanguage(run: EngineRun): LangRow[] {
  return run.rates.map((r) => {
    const mine = run.perClip.filter((c) => c.lang === r.lang);
    const audioS = mine.reduce((s, c) => s + c.durationS, 0);
    const procS = mine.reduce((s, c) => s + c.procS, 0);
    return { lang: r.lang, metric: r.metric, clips: r.clips, audioS, procS, rtf: procS / audioS, errors: r.errors, length: r.length, rate: r.rate };
  });
}

function verboseReport(run: EngineRun, clips: readonly Clip[]): string {
  const byFile = new Map(clips.map((c) => [c.file, c]));
  const out: string[] = [];
  for (const r of run.perClip) {
    const c = byFile.get(r.file);
    const s = r.score;
    const which = s.candidates.length > 1 ? ` (${s.chosen}: ${s.candidates.map((x) => `${x.which} ${pct(x.rate)}`).join(', ')})` : '';
    out.push(`${r.file}  ${s.metric.toUpperCase()} ${pct(s.rate)} = ${s.errors}/${s.length}  RTF ${fixed(r.procS / r.durationS)}${which}`);
    out.push(`  ref: ${s.chosen === 'reference_spelled' ? c?.referenceSpelled : c?.reference}`);
    out.push(`  hyp: ${r.text.trim()}`);
  }
  return out.join('\n');
}

async function main(): Promise<void> {
  const sections = (a.sections ?? '').split(',').map((x) => x.trim()).filter((x) => x !== '');
  const unknown = sections.filter((x) => !(x in SECTIONS));
  if (unknown.length > 0) throw new Error(`--sections: unknown ${unknown.join(', ')} (known: ${Object.keys(SECTIONS).join(', ')})`);
  if (sections.includes('asr')) await evalAsr();
  if (a.json) return;
  let ok = true;
  for (const name of sections) ok = runSection(name) && ok;
  if (!ok) process.exitCode = 1;
}

async function evalAsr(): Promise<void> {
  const beam = int('beam', a.beam) ?? 5;
  const threads = int('threads', a.threads) ?? 2;
  const maxS = Number(a['max-s']);
  const td = testdataDir();
  const tag = a.all ? undefined : a.tag;
  const clips = selectClips(loadManifest(manifestPath(td)), td, { tag, lang: a.lang, maxS, limit: int('limit', a.limit) });
  if (clips.length === 0) throw new Error('no clips match (need a reference, lang ko/en/ja/zh, the tag and duration)');

  const selection = `${clips.length} clips (${tag ? `tag ${tag}` : 'all tags'}${a.lang ? `, lang ${a.lang}` : ''}, <= ${maxS} s${a.limit ? `, limit ${a.limit}` : ''})`;
  if (!a.json) {
    console.log(`Sori eval: ${selection}, beam ${beam}, ${threads} threads, temperature fallback on`);
    console.log(NORMALISATION_NOTE);
    console.log('RTF = (decodeFile + transcribe) seconds / audio seconds\n');
  }
  const decode = await loadDecoder();
  log(`loading engine (models ${modelsDir()})`);
  const engine = await openEngine({ modelsDir: modelsDir(), threads, beamSize: beam });
  let run: EngineRun;
  try {
    run = await runEngine(engine, decode, clips, { beamSize: beam, threads, label: `sori beam ${beam}` });
  } finally {
    await engine.close();
  }

  const langs = perLanguage(run);
  const result = {
    kind: 'sori-eval',
    date: new Date().toISOString(),
    selection: { tag: tag ?? null, lang: a.lang ?? null, maxS, limit: a.limit ? Number(a.limit) : null, clips: clips.length },
    engine: run.engine,
    beam,
    threads,
    normalisation: NORMALISATION_NOTE,
    machine: machineInfo(),
    total: { clips: run.clips, audioS: run.audioS, procS: run.procS, rtf: round(run.rtf, 4) },
    languages: langs.map((l) => ({ ...l, audioS: round(l.audioS, 3), procS: round(l.procS, 3), rtf: round(l.rtf, 4), rate: round(l.rate, 4) })),
    perClip: run.perClip.map((r) => ({
      file: r.file,
      lang: r.lang,
      durationS: r.durationS,
      procS: round(r.procS, 3),
      decodeS: round(r.decodeS, 3),
      text: r.text,
      metric: r.score.metric,
      errors: r.score.errors,
      length: r.score.length,
      chosen: r.score.chosen,
      candidates: r.score.candidates,
    })),
  };
  const path = writeLatest('eval', result);

  if (a.json) {
    console.log(JSON.stringify(result));
    return;
  }
  if (a.verbose) console.log(verboseReport(run, clips) + '\n');
  console.log(`engine: ${run.engine}`);
  console.log(
    formatTable(
      ['lang', 'clips', 'audio s', 'metric', 'rate', 'errors/len', 'RTF'],
      [
        ...langs.map((l) => [l.lang, l.clips, l.audioS.toFixed(1), metricFor(l.lang).toUpperCase(), pct(l.rate), `${l.errors}/${l.length}`, fixed(l.rtf)]),
        ['all', run.clips, run.audioS.toFixed(1), '', '', '', fixed(run.rtf)],
      ],
    ),
  );
  console.log(`\nwritten: ${path}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
