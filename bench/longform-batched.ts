/**
 * npm run bench:longform-batched -- [--files ko/long_etts_lmy_12min.flac,en/jobs_dots.flac] [--beam 5] [--batch 8] [--threads 2] [--window-batch 1,4]
 *
 * Long-form recognition against faster-whisper's batched pipeline (issue 21), same weights, same
 * file, same beam, one after the other: the reference's BatchedInferencePipeline
 * (bench/reference-batched.py, its own VAD, `--batch` chunks per run), then Sori's long-form
 * in-process (recognizeMedia: VAD windows, what a job runs) once per `--window-batch` value
 * (engine.windowBatch: windows decoded together, whisper/lockstep.ts), each on a fresh engine.
 * Both times include decoding the file; neither includes loading the model. Prints RTF, the
 * ratio, CER/WER of each against the file's reference, and peak RSS (the reference's process;
 * Sori's inference process, which holds the model and the windows in flight).
 */
import { parseArgs } from 'node:util';
import { runCollect } from './lib/children.js';
import { clipFromEntry, loadManifest, manifestPath } from './lib/manifest.js';
import { modelsDir, referenceDir, testdataDir } from './lib/paths.js';
import { setupReference } from './lib/reference.js';
import { openEngine } from './lib/sori.js';
import { loadVad, runLongform } from './lib/longform-inprocess.js';
import { NORMALISATION_NOTE, scoreClip } from './lib/score.js';
import { formatTable, pct } from './lib/table.js';
import { log } from './lib/progress.js';
import { treeMemory } from './lib/server-process.js';
import { helpOnRequest } from './lib/help.js';

helpOnRequest(import.meta.url);

const { values: a } = parseArgs({
  options: {
    files: { type: 'string', default: 'ko/long_etts_lmy_12min.flac,en/jobs_dots.flac' },
    beam: { type: 'string', default: '5' },
    batch: { type: 'string', default: '8' },
    threads: { type: 'string', default: '2' },
    'window-batch': { type: 'string', default: '1,4' },
  },
});

async function main(): Promise<void> {
  const td = testdataDir();
  const manifest = loadManifest(manifestPath(td));
  const clips = (a.files ?? '').split(',').map((f) => {
    const e = manifest.find((m) => m.file === f);
    if (e === undefined) throw new Error(`${f} is not in the manifest`);
    return clipFromEntry(e, td);
  });
  const ref = await setupReference(referenceDir());
  const windowBatches = (a['window-batch'] ?? '1').split(',').map(Number);
  const score = (clip: (typeof clips)[number], text: string) => scoreClip({ lang: clip.lang, reference: clip.reference, referenceSpelled: clip.referenceSpelled }, text);
  const references: { audio_s: number; rtf: number; text: string; peak_rss_mb: number }[] = [];
  for (const clip of clips) {
    log(`${clip.file}: faster-whisper batched (batch ${a.batch}, beam ${a.beam})...`);
    const out = await runCollect(ref.python, [
      new URL('./reference-batched.py', import.meta.url).pathname, clip.path, ref.modelDir,
      '--lang', clip.lang, '--beam', String(a.beam), '--batch', String(a.batch), '--threads', String(a.threads),
    ]);
    if (out.code !== 0) throw new Error(`reference-batched.py failed: ${out.stderr}`);
    references.push(JSON.parse(out.stdout.trim().split('\n').pop() ?? '{}') as (typeof references)[number]);
  }
  const rows: (string | number)[][] = [];
  for (const windowBatch of windowBatches) {
    const engine = await openEngine({ modelsDir: modelsDir(), threads: Number(a.threads), beamSize: Number(a.beam), windowBatch });
    const vad = await loadVad(modelsDir());
    try {
      for (const [i, clip] of clips.entries()) {
        const r = references[i];
        log(`${clip.file}: Sori long-form in-process, window batch ${windowBatch}...`);
        const s = await runLongform(engine, vad, clip.path, clip.lang);
        const sRtf = s.procS / r.audio_s;
        const peak = Math.max(...treeMemory(process.pid).filter((m) => m.role === 'inference').map((m) => m.peakMb));
        rows.push([
          clip.file, Math.round(r.audio_s), windowBatch, r.rtf.toFixed(4), sRtf.toFixed(4), `${(sRtf / r.rtf).toFixed(2)}x`,
          pct(score(clip, r.text).rate), pct(score(clip, s.text).rate), Math.round(r.peak_rss_mb), Math.round(peak),
        ]);
      }
    } finally {
      await engine.close();
      await vad.close();
    }
  }
  console.log(formatTable([
    'file', 'audio s', 'Sori window batch', 'RTF faster-whisper batched', 'RTF Sori long-form', 'Sori / reference',
    'error rate reference', 'error rate Sori', 'reference peak MB', 'Sori inference process peak MB',
  ], rows));
  console.log(`\nbeam ${a.beam}, batch ${a.batch}, ${a.threads} threads. ${NORMALISATION_NOTE}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
