/**
 * What pronunciation assessment costs a short request, through the engine the server uses
 * (issue 16): the same ~5 s clips transcribed with and without `assessment` (and with the
 * reference pronunciation for `ref_graph`, its cache off so every one is synthesised), interleaved, after a warm-up that loads the
 * assessment models. Added time = p50 over clips and runs of (with - without) for the same clip
 * and run; memory = growth of the inference process's resident set once assessment has run.
 *
 *   SORI_MODELS_DIR=/work/shared/models node --import tsx bench/assessment-cost.ts [--runs 5] [--langs en,ko] [--json]
 */
import { parseArgs } from 'node:util';
import { decodeFile } from '../src/media/decode.js';
import { createEngine } from '../src/speech/index.js';
import type { TranscribeOptions } from '../src/speech/engine.js';
import { loadManifest, manifestPath, selectClips } from './lib/manifest.js';
import { modelsDir, testdataDir } from './lib/paths.js';
import { fixed, formatTable } from './lib/table.js';
import { machineInfo, writeLatest, type Check } from './lib/output.js';
import { log } from './lib/progress.js';
import { percentile, round } from './lib/stats.js';
import { treeMemory } from './lib/server-process.js';
import { helpOnRequest } from './lib/help.js';

helpOnRequest(import.meta.url);

const { values: a } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    langs: { type: 'string', default: 'en,ko' },
    json: { type: 'boolean', default: false },
  },
});

const ADDED_MS_TARGET = 150;
const MEMORY_MB_TARGET = 150;

const inferenceRss = (): number => treeMemory(process.pid).filter((p) => p.role === 'inference').reduce((s, p) => s + p.rssMb, 0);

async function main(): Promise<void> {
  const runs = Number(a.runs);
  const langs = (a.langs ?? 'en,ko').split(',');
  const td = testdataDir();
  const manifest = loadManifest(manifestPath(td));
  const engine = createEngine({ modelsDir: modelsDir(), model: 'whisper-base', threads: 2, parallel: 1, queueLimit: 8, beamSize: 5, referenceCacheSize: 0 });
  await engine.ready();
  const rows: string[][] = [];
  const checks: Check[] = [];
  const result: Record<string, unknown> = { kind: 'sori-assessment-cost', date: new Date().toISOString(), machine: machineInfo(), runs, beamSize: 5, threads: 2 };
  const rssBefore = inferenceRss();
  try {
    for (const lang of langs) {
      const clips = selectClips(manifest, td, { lang, maxS: 6 }).filter((c) => c.durationS >= 4).slice(0, 6);
      if (clips.length === 0) continue;
      const audio = await Promise.all(clips.map(async (c) => ({ clip: c, pcm: (await decodeFile(c.path)).pcm })));
      const base: TranscribeOptions = { language: lang, priority: 'short' };
      // Warm-up: loads the assessment models (first request only).
      await engine.transcribe(audio[0].pcm, { ...base, assessment: { text: audio[0].clip.reference, reference: true } });
      const plain: number[] = [];
      const added: number[] = [];
      const addedWithGraph: number[] = [];
      for (let r = 0; r < runs; r++) {
        for (const { clip, pcm } of audio) {
          const time = async (opts: TranscribeOptions): Promise<number> => {
            const t = performance.now();
            await engine.transcribe(pcm, opts);
            return performance.now() - t;
          };
          const p = await time(base);
          const s = await time({ ...base, assessment: { text: clip.reference } });
          const g = await time({ ...base, assessment: { text: clip.reference, reference: true } });
          plain.push(p);
          added.push(s - p);
          addedWithGraph.push(g - p);
        }
        log(`${lang}: run ${r + 1}/${runs}`);
      }
      const p50 = percentile(added, 50);
      const p50g = percentile(addedWithGraph, 50);
      rows.push([lang, String(clips.length), fixed(percentile(plain, 50), 0), fixed(p50, 0), fixed(p50g, 0)]);
      checks.push({ name: `${lang}: assessment adds (p50 ms)`, value: fixed(p50, 0), target: `<= ${ADDED_MS_TARGET}`, status: p50 <= ADDED_MS_TARGET ? 'PASS' : 'FAIL' });
      result[lang] = { clips: clips.map((c) => c.file), plainP50Ms: round(percentile(plain, 50), 1), addedP50Ms: round(p50, 1), addedP95Ms: round(percentile(added, 95), 1), addedWithGraphP50Ms: round(p50g, 1) };
    }
    const growth = inferenceRss() - rssBefore;
    checks.push({ name: 'inference process RSS growth (MB)', value: fixed(growth, 0), target: `<= ${MEMORY_MB_TARGET}`, status: growth <= MEMORY_MB_TARGET ? 'PASS' : 'FAIL' });
    result.memory = { inferenceRssBeforeMb: round(rssBefore, 1), growthMb: round(growth, 1) };
    result.checks = checks;
    const path = writeLatest('assessment-cost', result);
    if (a.json) {
      console.log(JSON.stringify(result));
      return;
    }
    console.log(`Assessment cost through the engine (beam 5, 2 threads, ${runs} runs per clip; ~5 s clips)`);
    console.log(formatTable(['lang', 'clips', 'transcribe p50 ms', 'assessment adds p50 ms', 'with ref_graph adds p50 ms'], rows));
    console.log(formatTable(['check', 'value', 'target', 'status'], checks.map((c) => [c.name, c.value, c.target, c.status])));
    console.log(`written: ${path}`);
  } finally {
    await engine.close();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
