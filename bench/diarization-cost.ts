/**
 * What diarization costs a long-form job (issue 17: <= 25% more time, memory flat over hours),
 * through the real server as users run it.
 *
 *   SORI_MODELS_DIR=/work/shared/models node --import tsx bench/diarization-cost.ts [--runs 3] [--memory 10,60] [--json]
 *
 * - Time: each recording of about three minutes or more with speaker turns (the shared 3-minute
 *   dialogue and, once bench/fetch-diarization-data.ts has run, the council meetings) sent sync
 *   through `POST /recognizer/upload` without and with `diarization.enable`, `--runs` rounds on
 *   one server, the order swapped every round so that neither side always runs warm. Reported:
 *   the median wall time of each side per file, their ratio, and the median ratio over files.
 * - Memory: one job with diarization per length in `--memory` (minutes; the dialogue looped),
 *   each on a fresh server, the process tree's RSS sampled during the job (bench/lib/longform-memory.ts).
 *   Flat means the longest job's peak is within a few percent of the shortest's.
 * Needs a quiet machine: both sides share the two cores.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startServer } from './lib/server-process.js';
import { uploadLongform, LONGFORM_LANG } from './lib/longform-client.js';
import { loopedFile, probeDurationS } from './lib/longform-media.js';
import { memoryRun, type MemoryRun } from './lib/longform-memory.js';
import { labelledRecordings } from './lib/labelled.js';
import { modelsDir, OUT_DIR } from './lib/paths.js';
import { formatTable } from './lib/table.js';
import { log } from './lib/progress.js';
import { median, round } from './lib/stats.js';
import { machineInfo, writeLatest } from './lib/output.js';
import { helpOnRequest } from './lib/help.js';

helpOnRequest(import.meta.url);

const KEY = 'diarization-cost-key';
const MIN_FILE_S = 170;
const SERVER_ENV = { SORI_THREADS: '2' };

const { values: a } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    memory: { type: 'string', default: '10,60' },
    json: { type: 'boolean', default: false },
  },
});

interface FileCost {
  file: string;
  audioS: number;
  withoutS: number[];
  withS: number[];
  ratio: number;
}

async function timeOne(baseUrl: string, path: string, lang: string, diarize: boolean): Promise<number> {
  const language = LONGFORM_LANG[lang.split('+')[0]] ?? lang;
  const params = { language, completion: 'sync', wordAlignment: true, fullText: true, diarization: { enable: diarize } };
  const answer = await uploadLongform(baseUrl, KEY, path, params);
  if (answer.status !== 200 || answer.body?.result !== 'COMPLETED') throw new Error(`${path}: ${answer.status} ${answer.error ?? answer.raw.slice(0, 200)}`);
  return answer.latencyS;
}

async function timeCosts(runs: number): Promise<FileCost[]> {
  const files = [];
  for (const f of labelledRecordings()) {
    const d = await probeDurationS(f.path);
    if (d !== undefined && d >= MIN_FILE_S) files.push({ ...f, audioS: d });
  }
  const server = await startServer({ apiKey: KEY, modelsDir: modelsDir(), env: SERVER_ENV, logPath: join(OUT_DIR, 'diarization-cost-server.log') });
  const out: FileCost[] = [];
  try {
    for (const f of files) {
      const withoutS: number[] = [];
      const withS: number[] = [];
      for (let r = 0; r < runs; r++) {
        const order = r % 2 === 0 ? [false, true] : [true, false];
        for (const diarize of order) (diarize ? withS : withoutS).push(await timeOne(server.baseUrl, f.path, f.lang, diarize));
        log(`${f.file} round ${r + 1}/${runs}: without ${withoutS.at(-1)?.toFixed(1)} s, with ${withS.at(-1)?.toFixed(1)} s`);
      }
      out.push({ file: f.file, audioS: round(f.audioS, 1), withoutS: withoutS.map((x) => round(x, 2)), withS: withS.map((x) => round(x, 2)), ratio: round(median(withS) / median(withoutS), 3) });
    }
  } finally {
    await server.stop();
  }
  return out;
}

async function memoryCosts(minutes: readonly number[]): Promise<MemoryRun[]> {
  const dialog = labelledRecordings().find((f) => f.file.includes('dialog_etts'));
  if (!dialog) throw new Error('the shared 3-minute dialogue is missing from the testdata');
  const out: MemoryRun[] = [];
  for (const m of minutes) {
    const f = await loopedFile(dialog.path, m * 60, `dialog-${m}min`);
    out.push(await memoryRun({
      label: `${m} min, diarization`, file: f.path, audioS: f.durationS, bytes: f.bytes, language: 'ko-KR', apiKey: KEY, modelsDir: modelsDir(),
      env: SERVER_ENV, entry: 'src/main.ts', logPath: join(OUT_DIR, `diarization-cost-memory-${m}min.log`), params: { diarization: { enable: true } },
    }));
  }
  return out;
}

async function main(): Promise<void> {
  const runs = Number(a.runs);
  const minutes = (a.memory ?? '').split(',').filter((x) => x !== '').map(Number);
  const time = runs > 0 ? await timeCosts(runs) : [];
  const memory = await memoryCosts(minutes);
  const overall = time.length > 0 ? median(time.map((t) => t.ratio)) : NaN;
  const result = {
    kind: 'sori-diarization-cost', date: new Date().toISOString(), machine: machineInfo(), runs, serverEnv: SERVER_ENV,
    time, medianRatio: overall,
    memory: memory.map((m) => ({ label: m.label, audioS: m.audioS, state: m.state, wallS: m.wallS, rtf: round(m.rtf, 4), peakTreeMb: m.peakTreeMb, peakByRoleMb: m.peakByRoleMb, idleTreeMb: m.idleTreeMb, series: m.series })),
  };
  const out = writeLatest('diarization-cost', result);
  if (a.json) {
    console.log(JSON.stringify(result));
    return;
  }
  if (time.length > 0) {
    console.log(formatTable(
      ['file', 'audio s', 'without (median s)', 'with (median s)', 'with / without'],
      time.map((t) => [t.file, t.audioS.toFixed(0), median(t.withoutS).toFixed(1), median(t.withS).toFixed(1), `${t.ratio.toFixed(2)}x`]),
    ));
    console.log(`\nmedian over files: diarization adds ${((overall - 1) * 100).toFixed(0)}% to a long-form job (target <= 25%); ${runs} rounds each, order swapped every round`);
  }
  if (memory.length > 0) {
    console.log('\n' + formatTable(
      ['job', 'state', 'wall s', 'RTF', 'idle tree MB', 'peak tree MB', 'peak per process MB'],
      memory.map((m) => [m.label, m.state, m.wallS.toFixed(0), m.rtf.toFixed(3), m.idleTreeMb.toFixed(0), m.peakTreeMb.toFixed(0), Object.entries(m.peakByRoleMb).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')]),
    ));
  }
  console.log(`written: ${out}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
