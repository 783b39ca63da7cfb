/**
 * Speakers as a client sees them (issue 17): every RTTM-labelled recording (the shared testdata
 * and, once `bench/fetch-diarization-data.ts` has run, the registry meeting data) sent to a real
 * server through `POST /recognizer/upload` (sync, `diarization.enable`), and the returned
 * segments scored against the reference turns.
 *
 *   SORI_MODELS_DIR=/work/shared/models node --import tsx bench/diarization-api.ts [--counts auto,given] [--only ami] [--json]
 *
 * - DER: collar 0.25 s each side of reference boundaries, overlapped speech scored, from the
 *   segments (start, end, speaker label) the API returns; missed speech, false alarm and
 *   confusion shown apart. `--counts given` runs each file again with
 *   speakerCountMin = speakerCountMax = the reference's speaker count.
 * - Halves: tuning or evaluation by a hash of the file name (bench/lib/halves.ts); means per
 *   half and over all.
 * - Short turns: Silero VAD speech turns (threshold 0.5) of >= 0.3 s, and reference turns of
 *   >= 0.3 s; a turn is covered when returned segments overlap at least half of it.
 * - Empty answers: labelled files whose result has no segment.
 * - Non-speech: synthetic noise, tones and music (bench/lib/event-mixes.ts recipes, 20 s each)
 *   sent the same way; the words returned on them are hallucinations.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { diarizationErrorRate, parseRttm, type DerResult, type SpeakerSegment } from './lib/der.js';
import { modelsDir, OUT_DIR } from './lib/paths.js';
import { fixed, formatTable, pct } from './lib/table.js';
import { startServer } from './lib/server-process.js';
import { uploadLongform } from './lib/longform-client.js';
import { EVENT_RECIPES, renderEvent } from './lib/event-mixes.js';
import { labelledRecordings, type Labelled } from './lib/labelled.js';
import { decodeFile } from '../src/media/decode.js';
import { SileroVad } from '../src/speech/vad/silero.js';
import { SAMPLE_RATE } from '../src/audio.js';
import { log } from './lib/progress.js';
import { half } from './lib/halves.js';
import { machineInfo, writeLatest } from './lib/output.js';
import { helpOnRequest } from './lib/help.js';

helpOnRequest(import.meta.url);

const COLLAR = 0.25;
const SHORT_TURN_S = 0.3;
const NON_SPEECH_S = 20;
const KEY = 'diarization-bench-key';

const { values: a } = parseArgs({
  allowNegative: true,
  options: {
    counts: { type: 'string', default: 'auto,given' },
    only: { type: 'string' },
    json: { type: 'boolean', default: false },
    'non-speech': { type: 'boolean', default: true },
  },
});



function labelled(): Labelled[] {
  return labelledRecordings().filter((e) => a.only === undefined || e.file.includes(a.only));
}

interface Returned {
  segments: SpeakerSegment[];
  /** What the client got, kept in the JSON output to read a file's misses. */
  shown: { start: number; end: number; speaker: string; text: string }[];
  words: number;
  error?: string;
}

async function recognise(baseUrl: string, path: string, lang: string, count?: number): Promise<Returned> {
  // A mixed-language file ("en+zh") is sent as its first language: CLOVA has no such option.
  const first = lang.split('+')[0];
  const language = first === 'ko' ? 'ko-KR' : first === 'en' ? 'en-US' : first === 'zh' ? 'zh-cn' : first;
  const diarization = count === undefined ? { enable: true } : { enable: true, speakerCountMin: count, speakerCountMax: count };
  const answer = await uploadLongform(baseUrl, KEY, path, { language, completion: 'sync', diarization, wordAlignment: true, fullText: true });
  if (answer.status !== 200 || answer.body === null) return { segments: [], shown: [], words: 0, error: `${answer.status} ${answer.error ?? answer.raw.slice(0, 200)}` };
  const segs = (answer.body.segments ?? []) as { start: number; end: number; text: string; speaker?: { label?: string } }[];
  return {
    segments: segs.map((s) => ({ start: s.start / 1000, end: s.end / 1000, speaker: s.speaker?.label ?? '?' })),
    shown: segs.map((s) => ({ start: s.start / 1000, end: s.end / 1000, speaker: s.speaker?.label ?? '?', text: s.text })),
    words: segs.reduce((n, s) => n + s.text.split(/\s+/u).filter((w) => w !== '').length, 0),
  };
}

/** Share of `turns` (>= SHORT_TURN_S) that returned segments overlap for at least half their length. */
function covered(turns: readonly { start: number; end: number }[], segments: readonly SpeakerSegment[]): { covered: number; total: number } {
  const long = turns.filter((t) => t.end - t.start >= SHORT_TURN_S);
  let n = 0;
  for (const t of long) {
    let overlap = 0;
    for (const s of segments) overlap += Math.max(0, Math.min(t.end, s.end) - Math.max(t.start, s.start));
    if (overlap >= (t.end - t.start) / 2) n++;
  }
  return { covered: n, total: long.length };
}

interface FileRow {
  file: string;
  half: string;
  meeting: boolean;
  refSpeakers: number;
  auto: { der: DerResult; speakers: number; segments: number; shown: Returned['shown'] } | null;
  given: { der: DerResult; speakers: number } | null;
  vadTurns: { covered: number; total: number };
  refTurns: { covered: number; total: number };
  error?: string;
}

const mean = (xs: readonly number[]): number => (xs.length === 0 ? NaN : xs.reduce((x, y) => x + y, 0) / xs.length);

async function main(): Promise<void> {
  const counts = new Set((a.counts ?? '').split(','));
  const files = labelled();
  const vad = await SileroVad.load(join(modelsDir(), 'silero-vad'));
  const server = await startServer({ apiKey: KEY, modelsDir: modelsDir(), env: { SORI_THREADS: '2' }, logPath: join(OUT_DIR, 'diarization-api-server.log') });
  const rows: FileRow[] = [];
  const nonSpeech: { name: string; words: number; segments: number }[] = [];
  const work = mkdtempSync(join(tmpdir(), 'sori-diarization-api-'));
  try {
    for (const [i, f] of files.entries()) {
      log(`${i + 1}/${files.length} ${f.file}`);
      const ref = parseRttm(readFileSync(f.rttm, 'utf8'));
      const refSpeakers = new Set(ref.map((s) => s.speaker)).size;
      const { pcm } = await decodeFile(f.path);
      const vadTurns = (await vad.segments(pcm)).map((s) => ({ start: s.start / SAMPLE_RATE, end: s.end / SAMPLE_RATE }));
      const auto = counts.has('auto') ? await recognise(server.baseUrl, f.path, f.lang) : null;
      const given = counts.has('given') ? await recognise(server.baseUrl, f.path, f.lang, refSpeakers) : null;
      const shown = auto ?? given;
      if (auto?.error ?? given?.error) log(`${f.file}: ${auto?.error ?? given?.error}`);
      rows.push({
        file: f.file, half: half(f.file), meeting: f.meeting, refSpeakers,
        auto: auto && { der: diarizationErrorRate(ref, auto.segments, { collar: COLLAR }), speakers: new Set(auto.segments.map((s) => s.speaker)).size, segments: auto.segments.length, shown: auto.shown },
        given: given && { der: diarizationErrorRate(ref, given.segments, { collar: COLLAR }), speakers: new Set(given.segments.map((s) => s.speaker)).size },
        vadTurns: covered(vadTurns, shown?.segments ?? []),
        refTurns: covered(ref, shown?.segments ?? []),
        error: auto?.error ?? given?.error,
      });
    }
    if (a['non-speech']) {
      for (const recipe of EVENT_RECIPES) {
        const { path } = await renderEvent(work, recipe, NON_SPEECH_S, recipe.name);
        const r = await recognise(server.baseUrl, path, 'en');
        nonSpeech.push({ name: recipe.name, words: r.words, segments: r.segments.length });
        log(`non-speech ${recipe.name}: ${r.words} words`);
      }
      const silence = join(work, 'silence.flac');
      const { execFileSync } = await import('node:child_process');
      execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `anullsrc=r=16000:cl=mono`, '-t', String(NON_SPEECH_S), '-c:a', 'flac', silence]);
      const r = await recognise(server.baseUrl, silence, 'en');
      nonSpeech.push({ name: 'silence', words: r.words, segments: r.segments.length });
    }
  } finally {
    await server.stop();
    rmSync(work, { recursive: true, force: true });
  }

  const summary = (which: 'auto' | 'given', sel: (r: FileRow) => boolean) => {
    const rs = rows.filter(sel).map((r) => r[which]).filter((x): x is NonNullable<typeof x> => x !== null);
    return { files: rs.length, meanDer: mean(rs.map((r) => r.der.der)) };
  };
  const halves = { tuning: (r: FileRow) => r.half === 'tuning', evaluation: (r: FileRow) => r.half === 'evaluation', all: () => true };
  const vadCov = rows.reduce((n, r) => n + r.vadTurns.covered, 0) / Math.max(1, rows.reduce((n, r) => n + r.vadTurns.total, 0));
  const refCov = rows.reduce((n, r) => n + r.refTurns.covered, 0) / Math.max(1, rows.reduce((n, r) => n + r.refTurns.total, 0));
  const empty = rows.filter((r) => (r.auto?.segments ?? 1) === 0).map((r) => r.file);
  const result = {
    kind: 'sori-diarization-api', date: new Date().toISOString(), machine: machineInfo(), collar: COLLAR,
    files: rows.map((r) => ({ ...r, auto: r.auto && { ...r.auto, der: { ...r.auto.der, mapping: undefined } }, given: r.given && { ...r.given, der: { ...r.given.der, mapping: undefined } } })),
    means: Object.fromEntries(Object.entries(halves).map(([k, f]) => [k, { auto: summary('auto', f), given: summary('given', f) }])),
    shortTurns: { vad: vadCov, reference: refCov }, emptyAnswers: empty, nonSpeech,
  };
  const out = writeLatest('diarization-api', result);
  if (a.json) {
    console.log(JSON.stringify(result));
    return;
  }
  const d = (x: { der: DerResult } | null, f: (r: DerResult) => number) => (x === null ? '-' : pct(f(x.der) / (x.der.total || 1)));
  console.log(formatTable(
    ['file', 'half', 'ref spk', 'spk', 'DER', 'missed', 'false al.', 'confusion', 'DER count given', 'spk given', 'VAD turns', 'ref turns'],
    rows.map((r) => [
      r.file, r.half, r.refSpeakers, r.auto?.speakers ?? '-', r.auto ? pct(r.auto.der.der) : (r.error ?? '-'), d(r.auto, (x) => x.missed), d(r.auto, (x) => x.falseAlarm), d(r.auto, (x) => x.confusion),
      r.given ? pct(r.given.der.der) : '-', r.given?.speakers ?? '-', `${r.vadTurns.covered}/${r.vadTurns.total}`, `${r.refTurns.covered}/${r.refTurns.total}`,
    ]),
  ));
  console.log('\n' + formatTable(
    ['mean DER', 'files', 'automatic', 'count given'],
    Object.entries(halves).map(([k]) => {
      const m = result.means[k as keyof typeof halves];
      return [k, m.auto.files || m.given.files, pct(m.auto.meanDer), pct(m.given.meanDer)];
    }),
  ));
  const meetings = rows.filter((r) => r.meeting && r.auto !== null);
  console.log(`\nmeetings over 25% DER: ${meetings.filter((r) => (r.auto?.der.der ?? 0) > 0.25).length}/${meetings.length}; worst ${fixed(Math.max(...meetings.map((r) => r.auto?.der.der ?? 0)) * 100, 1)}%`);
  console.log(`short turns covered: VAD turns >= ${SHORT_TURN_S} s ${pct(vadCov)}, reference turns >= ${SHORT_TURN_S} s ${pct(refCov)}; empty answers: ${empty.length === 0 ? 'none' : empty.join(', ')}`);
  if (nonSpeech.length > 0) console.log(`non-speech (${NON_SPEECH_S} s each): ${nonSpeech.map((n) => `${n.name} ${n.words}`).join(', ')} words; total ${nonSpeech.reduce((s, n) => s + n.words, 0)}`);
  console.log(`collar ${COLLAR} s each side, overlap scored, from the API's segments; written: ${out}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
