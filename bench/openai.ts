/**
 * npm run bench:openai -- [--tag quick] [--limit N] [--rounds 1] [--json] ...   (--help for all)
 *
 * The OpenAI-compatible route against CLOVA's short recognition on the same clips and the same
 * server: every clip once through POST /recog/v1/stt and once through POST
 * /v1/audio/transcriptions (response_format json, the clip's language named, as a client that
 * knows it would), one after the other, the first route alternating from clip to clip so
 * neither always runs on a warmer machine. Client-side time, upload to answer. The figure is
 * the ratio of the two sums (target: the OpenAI route within 1.05x), with the same per language
 * and whether both routes gave the same text (zh compared in simplified script: the CLOVA
 * route converts, OpenAI's does not).
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadManifest, manifestPath, selectClips, type Clip } from './lib/manifest.js';
import { modelsDir, OUT_DIR, testdataDir } from './lib/paths.js';
import { Bodies, recognise, type SttResult } from './lib/client.js';
import { freePort, startServer, type ServerHandle } from './lib/server-process.js';
import { finishRun, machineInfo, type Check } from './lib/output.js';
import { log, progress } from './lib/progress.js';
import { median, round, since, sum } from './lib/stats.js';
import { formatTable } from './lib/table.js';
import { toSimplified } from '../src/transcript/chinese.js';

const TARGET = 1.05;

const { values: a } = parseArgs({
  options: {
    tag: { type: 'string', default: 'quick' },
    limit: { type: 'string' },
    'max-s': { type: 'string', default: '60' },
    threads: { type: 'string', default: '2' },
    beam: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '1' },
    'server-entry': { type: 'string', default: 'src/main.ts' },
    json: { type: 'boolean', default: false },
    strict: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

const HELP = `usage: npm run bench:openai -- [options]
  --tag quick        clips with this tag (default quick; ko/en/ja/zh with a reference)
  --limit N          at most N clips, languages taken in turn (smoke runs)
  --max-s 60         longest clip, seconds (the short route takes up to 60 s)
  --threads 2        SORI_THREADS of the server
  --beam 5           SORI_BEAM_SIZE of the server
  --rounds 1         passes over the clips (each clip through both routes per pass)
  --server-entry F   server entry point (default src/main.ts via tsx)
  --json             the result JSON on stdout instead of tables
  --strict           exit 1 when the ratio misses its target
The result is also written to .bench/openai-latest.json.`;

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

interface Pair {
  file: string;
  lang: string;
  durationS: number;
  round: number;
  first: 'stt' | 'openai';
  stt: { status: number; latencyS: number; text: string | null };
  openai: { status: number; latencyS: number; text: string | null };
  sameText: boolean;
}

interface OpenAIBenchResult {
  kind: 'sori-bench-openai';
  date: string;
  selection: { tag: string; maxS: number; limit: number | null; clips: number; audioS: number };
  settings: { threads: number; beam: number; rounds: number };
  machine: Record<string, unknown>;
  totals?: { sttS: number; openaiS: number; ratio: number; medianClipRatio: number };
  perLanguage?: Array<{ lang: string; clips: number; sttS: number; openaiS: number; ratio: number; sameText: number }>;
  pairs?: Pair[];
  checks: Check[];
  error?: string;
}

/** POST /v1/audio/transcriptions as the OpenAI SDKs send it (multipart, file first), client-side time. */
async function transcribe(baseUrl: string, apiKey: string, clip: Clip, body: Uint8Array<ArrayBuffer>): Promise<SttResult> {
  const base = { file: clip.file, lang: clip.lang, durationS: clip.durationS };
  const t0 = performance.now();
  try {
    const form = new FormData();
    form.append('file', new Blob([body]), clip.file.split('/').pop());
    form.append('model', 'whisper-1');
    form.append('language', clip.lang);
    const res = await fetch(`${baseUrl}/v1/audio/transcriptions`, {
      method: 'POST', headers: { authorization: `Bearer ${apiKey}` }, body: form, signal: AbortSignal.timeout(600_000),
    });
    const raw = await res.text();
    const latencyS = since(t0);
    let text: string | null = null;
    try {
      const j = JSON.parse(raw) as { text?: unknown };
      if (typeof j.text === 'string') text = j.text;
    } catch {
      /* reported below */
    }
    return res.status === 200 && text !== null ? { ...base, status: 200, text, latencyS } : { ...base, status: res.status, text, latencyS, error: raw.slice(0, 300) };
  } catch (err) {
    return { ...base, status: 0, text: null, latencyS: since(t0), error: err instanceof Error ? err.message : String(err) };
  }
}

async function run(): Promise<OpenAIBenchResult> {
  const threads = posInt('threads', a.threads, 2);
  const beam = posInt('beam', a.beam, 5);
  const rounds = posInt('rounds', a.rounds, 1);
  const limit = a.limit === undefined ? undefined : posInt('limit', a.limit, 1);
  const maxS = Number(a['max-s']);
  const testdata = testdataDir();
  const clips = selectClips(loadManifest(manifestPath(testdata)), testdata, { tag: a.tag, maxS, limit });
  const result: OpenAIBenchResult = {
    kind: 'sori-bench-openai',
    date: new Date().toISOString(),
    selection: { tag: a.tag ?? 'quick', maxS, limit: limit ?? null, clips: clips.length, audioS: round(sum(clips.map((c) => c.durationS)), 1) },
    settings: { threads, beam, rounds },
    machine: machineInfo(),
    checks: [],
  };
  if (clips.length === 0) throw new Error('no clips selected');

  const apiKey = randomBytes(18).toString('base64url');
  log(`starting the server (${a['server-entry']}, threads ${threads}, beam ${beam})`);
  let server: ServerHandle | undefined;
  try {
    server = await startServer({
      apiKey, modelsDir: modelsDir(), entry: a['server-entry'], logPath: join(OUT_DIR, 'openai-server.log'),
      env: { SORI_THREADS: String(threads), SORI_BEAM_SIZE: String(beam), SORI_GRPC_PORT: String(await freePort()) },
    });
    const bodies = new Bodies();
    // Warm-up: one request per route (first ffmpeg spawns, the VAD-less paths, JIT).
    await recognise(server.baseUrl, apiKey, clips[0], bodies.get(clips[0]));
    await transcribe(server.baseUrl, apiKey, clips[0], bodies.get(clips[0]));

    const pairs: Pair[] = [];
    const bar = progress('stt / openai', clips.length * rounds);
    let n = 0;
    for (let r = 0; r < rounds; r++) {
      for (const clip of clips) {
        const body = bodies.get(clip);
        const first = n++ % 2 === 0 ? 'stt' : 'openai';
        const viaStt = () => recognise(server!.baseUrl, apiKey, clip, body);
        const viaOpenAI = () => transcribe(server!.baseUrl, apiKey, clip, body);
        const [x, y] = first === 'stt' ? [await viaStt(), await viaOpenAI()] : [await viaOpenAI(), await viaStt()];
        const [stt, openai] = first === 'stt' ? [x, y] : [y, x];
        const norm = (t: string | null) => (t === null ? null : clip.lang === 'zh' ? toSimplified(t.trim()) : t.trim());
        pairs.push({
          file: clip.file, lang: clip.lang, durationS: clip.durationS, round: r, first,
          stt: { status: stt.status, latencyS: stt.latencyS, text: stt.text },
          openai: { status: openai.status, latencyS: openai.latencyS, text: openai.text },
          sameText: norm(stt.text) === norm(openai.text),
        });
        bar.tick(`${clip.file} ${stt.latencyS.toFixed(2)} / ${openai.latencyS.toFixed(2)} s`);
      }
    }
    bar.stop();
    result.pairs = pairs;
    const ok = pairs.filter((p) => p.stt.status === 200 && p.openai.status === 200);
    const sttS = sum(ok.map((p) => p.stt.latencyS));
    const openaiS = sum(ok.map((p) => p.openai.latencyS));
    result.totals = {
      sttS: round(sttS, 3), openaiS: round(openaiS, 3), ratio: round(openaiS / sttS, 4),
      medianClipRatio: round(median(ok.map((p) => p.openai.latencyS / p.stt.latencyS)), 4),
    };
    result.perLanguage = [...new Set(ok.map((p) => p.lang))].map((lang) => {
      const of = ok.filter((p) => p.lang === lang);
      const s = sum(of.map((p) => p.stt.latencyS));
      const o = sum(of.map((p) => p.openai.latencyS));
      return { lang, clips: of.length, sttS: round(s, 3), openaiS: round(o, 3), ratio: round(o / s, 4), sameText: of.filter((p) => p.sameText).length };
    });
    const failed = pairs.length - ok.length;
    const same = ok.filter((p) => p.sameText).length;
    result.checks = [
      {
        name: 'OpenAI route time / /recog/v1/stt time (sums, same clips)',
        value: `${result.totals.ratio.toFixed(3)}x (${openaiS.toFixed(1)} s / ${sttS.toFixed(1)} s; median per clip ${result.totals.medianClipRatio.toFixed(3)}x)`,
        target: `<= ${TARGET.toFixed(2)}`,
        status: result.totals.ratio <= TARGET ? 'PASS' : 'FAIL',
      },
      { name: 'Requests failed (either route)', value: String(failed), target: '0', status: failed === 0 ? 'PASS' : 'FAIL' },
      { name: 'Same text on both routes', value: `${same}/${ok.length}`, target: '', status: 'info' },
    ];
  } catch (err) {
    result.error = err instanceof Error ? err.stack ?? err.message : String(err);
  } finally {
    await server?.stop();
  }
  return result;
}

function report(r: OpenAIBenchResult): string {
  const lines = [
    `OpenAI route vs /recog/v1/stt: ${r.selection.clips} clips (${r.selection.audioS} s of audio, tag ${r.selection.tag}) x ${r.settings.rounds} round(s), ` +
      `threads ${r.settings.threads}, beam ${r.settings.beam}, ${r.date}`,
    '',
  ];
  if (r.perLanguage !== undefined) {
    lines.push(
      formatTable(
        ['lang', 'clips', 'stt s', 'openai s', 'ratio', 'same text'],
        r.perLanguage.map((l) => [l.lang, l.clips, l.sttS.toFixed(2), l.openaiS.toFixed(2), `${l.ratio.toFixed(3)}x`, `${l.sameText}/${l.clips}`]),
      ),
      '',
    );
  }
  lines.push(formatTable(['check', 'value', 'target', 'status'], r.checks.map((c) => [c.name, c.value, c.target, c.status])));
  const differ = (r.pairs ?? []).filter((p) => !p.sameText && p.stt.status === 200 && p.openai.status === 200);
  if (differ.length > 0) {
    lines.push('', 'texts that differ (stt | openai):');
    for (const p of differ) lines.push(`  ${p.file} (${p.durationS} s): ${p.stt.text} | ${p.openai.text}`);
  }
  if (r.error) lines.push('', `error: ${r.error}`);
  return lines.join('\n');
}

const result = await run();
process.exit(finishRun('openai', result, report, { json: a.json, strict: a.strict }));
