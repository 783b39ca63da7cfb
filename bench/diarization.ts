/**
 * Diarization accuracy and speed on every test recording tagged `diarization` that has an RTTM.
 *
 *   SORI_MODELS_DIR=/work/shared/models node --import tsx bench/diarization.ts
 *   ... --only ami                      # files whose path contains "ami"
 *   ... --set threshold=0.75 --set stepSeconds=2   # tuning overrides (DiarizerTuning fields)
 *   ... --rttm out/                     # also write each hypothesis as RTTM
 *   ... --json                          # results as JSON on stdout
 *   ... --half tuning|evaluation        # one half of the labelled files (bench/lib/halves.ts)
 *   ... --speaker-model speaker-resemblyzer   # instead of the best one the models folder holds
 *   ... --no-extra                      # only the shared testdata (not bench/fetch-diarization-data.ts's)
 *   ... --given                         # the true speaker count given (speakerCountMin = Max)
 *
 * Audio is streamed from ffmpeg into DiarizationSession.push() chunk by chunk, as the server
 * would. DER: collar 0.25 s each side of reference boundaries, overlapped speech scored,
 * speaker count automatic. Time: decoding + diarization per file, model loading excluded.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadDiarizer, SPEAKER_MODELS, type DiarizerTuningInput, type SpeakerModelName, type Turn } from '../src/speech/diarization/index.js';
import { streamPcm } from '../src/media/pcm-stream.js';
import { diarizationErrorRate, parseRttm, toRttm, type DerResult } from './lib/der.js';
import { modelsDir } from './lib/paths.js';
import { fixed, formatTable, pct } from './lib/table.js';
import { labelledRecordings } from './lib/labelled.js';
import { half } from './lib/halves.js';
import { helpOnRequest } from './lib/help.js';

helpOnRequest(import.meta.url);

const COLLAR = 0.25;

interface FileResult {
  file: string;
  durationS: number;
  refSpeakers: number;
  hypSpeakers: number;
  der: DerResult;
  seconds: number;
  turns: Turn[];
}

function parseSet(values: readonly string[]): DiarizerTuningInput {
  const out: Record<string, unknown> = {};
  for (const kv of values) {
    const i = kv.indexOf('=');
    if (i < 0) throw new Error(`--set expects key=value, got ${kv}`);
    const v = kv.slice(i + 1);
    out[kv.slice(0, i)] = v === 'true' ? true : v === 'false' ? false : Number.isNaN(Number(v)) ? v : Number(v);
  }
  // Validated by loadDiarizer (zod): unknown keys and bad values are rejected there.
  return out as DiarizerTuningInput;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      set: { type: 'string', multiple: true, default: [] },
      rttm: { type: 'string' },
      json: { type: 'boolean', default: false },
      extra: { type: 'boolean', default: true },
      half: { type: 'string', default: 'all' },
      'speaker-model': { type: 'string' },
      given: { type: 'boolean', default: false },
    },
  });
  const entries = labelledRecordings({ extra: values.extra }).filter(
    (e) => (!values.only || e.file.includes(values.only)) && (values.half === 'all' || half(e.file) === values.half),
  );
  if (entries.length === 0) throw new Error('no diarization clips with an RTTM selected');

  const t0 = performance.now();
  const prefer = values['speaker-model'];
  if (prefer !== undefined && !SPEAKER_MODELS.some((m) => m.name === prefer)) throw new Error(`--speaker-model: one of ${SPEAKER_MODELS.map((m) => m.name).join(', ')}`);
  const diarizer = await loadDiarizer(modelsDir(), parseSet(values.set ?? []), prefer as SpeakerModelName | undefined);
  const loadS = (performance.now() - t0) / 1000;
  const log = (s: string): void => {
    if (!values.json) console.log(s);
  };
  log(`models loaded in ${loadS.toFixed(2)} s; speaker model ${diarizer.speakerModel}; tuning ${JSON.stringify(diarizer.tuning)}`);

  const results: FileResult[] = [];
  try {
    for (const e of entries) {
      const ref = parseRttm(readFileSync(e.rttm, 'utf8'));
      const refSpeakers = new Set(ref.map((s) => s.speaker)).size;
      const start = performance.now();
      // As the server does: a session told a minimum count knows it from the start (forcedEmbedEvery).
      const session = diarizer.session(values.given ? { speakerCountMin: refSpeakers } : {});
      for await (const pcm of streamPcm(e.path)) await session.push(pcm);
      const durationS = session.durationSeconds;
      const turns = await session.finish(values.given ? { speakerCountMin: refSpeakers, speakerCountMax: refSpeakers } : {});
      const seconds = (performance.now() - start) / 1000;
      const hyp = turns.map((t) => ({ start: t.start, end: t.end, speaker: String(t.speaker) }));
      const der = diarizationErrorRate(ref, hyp, { collar: COLLAR });
      results.push({
        file: e.file, durationS, refSpeakers,
        hypSpeakers: new Set(turns.map((t) => t.speaker)).size, der, seconds, turns,
      });
      if (values.rttm) {
        mkdirSync(values.rttm, { recursive: true });
        const id = e.file.replace(/\//g, '_').replace(/\.[^.]+$/, '');
        writeFileSync(join(values.rttm, `${id}.rttm`), toRttm(hyp, id));
      }
    }
  } finally {
    await diarizer.close();
  }

  const meanDer = results.reduce((a, r) => a + r.der.der, 0) / results.length;
  const sum = (f: (d: DerResult) => number): number => results.reduce((a, r) => a + f(r.der), 0);
  const pooled = (sum((d) => d.missed) + sum((d) => d.falseAlarm) + sum((d) => d.confusion)) / sum((d) => d.total);
  const audioS = results.reduce((a, r) => a + r.durationS, 0);
  const procS = results.reduce((a, r) => a + r.seconds, 0);
  if (values.json) {
    console.log(JSON.stringify({
      collar: COLLAR, tuning: diarizer.tuning, loadS, meanDer, pooledDer: pooled, audioS, procS, rtf: procS / audioS,
      files: results.map((r) => ({ ...r, der: { ...r.der, mapping: Object.fromEntries(r.der.mapping) } })),
    }, null, 2));
    return;
  }
  const rows = results.map((r) => [
    r.file, fixed(r.durationS, 1), r.refSpeakers, r.hypSpeakers, pct(r.der.der), pct(r.der.missed / r.der.total),
    pct(r.der.falseAlarm / r.der.total), pct(r.der.confusion / r.der.total), fixed(r.seconds, 2), fixed(r.seconds / r.durationS, 3),
  ]);
  for (const h of ['tuning', 'evaluation'] as const) {
    const mine = results.filter((r) => half(r.file) === h);
    if (mine.length > 0 && mine.length < results.length) rows.push([`mean, ${h} half (${mine.length})`, '', '', '', pct(mine.reduce((x, r) => x + r.der.der, 0) / mine.length), '', '', '', '', '']);
  }
  rows.push(['mean (per file)', fixed(audioS, 1), '', '', pct(meanDer), '', '', '', fixed(procS, 2), fixed(procS / audioS, 3)]);
  rows.push(['pooled (by time)', '', '', '', pct(pooled), pct(sum((d) => d.missed) / sum((d) => d.total)),
    pct(sum((d) => d.falseAlarm) / sum((d) => d.total)), pct(sum((d) => d.confusion) / sum((d) => d.total)), '', '']);
  log(formatTable(['file', 'audio s', 'ref spk', 'hyp spk', 'DER', 'missed', 'false al.', 'confusion', 'time s', 'RTF'], rows));
  log(`collar ${COLLAR} s each side, overlap scored, speaker count ${values.given ? 'given (the reference\'s)' : 'automatic'}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
