/**
 * npm run bench:longform-batched -- [--files ko/long_etts_lmy_12min.flac,en/jobs_dots.flac] [--beam 5] [--batch 8] [--threads 2]
 *
 * Long-form recognition against faster-whisper's batched pipeline (issue 21), same weights, same
 * file, same beam, one after the other: the reference's BatchedInferencePipeline
 * (bench/reference-batched.py, its own VAD, `--batch` chunks per run), then Sori's long-form
 * in-process (recognizeMedia: VAD windows, what a job runs). Both times include decoding the
 * file; neither includes loading the model. Prints RTF, the ratio, and CER/WER of each against
 * the file's reference.
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
import { helpOnRequest } from './lib/help.js';

helpOnRequest(import.meta.url);

const { values: a } = parseArgs({
  options: {
    files: { type: 'string', default: 'ko/long_etts_lmy_12min.flac,en/jobs_dots.flac' },
    beam: { type: 'string', default: '5' },
    batch: { type: 'string', default: '8' },
    threads: { type: 'string', default: '2' },
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
  const engine = await openEngine({ modelsDir: modelsDir(), threads: Number(a.threads), beamSize: Number(a.beam) });
  const vad = await loadVad(modelsDir());
  const rows: (string | number)[][] = [];
  try {
    for (const clip of clips) {
      log(`${clip.file}: faster-whisper batched (batch ${a.batch}, beam ${a.beam})...`);
      const out = await runCollect(ref.python, [
        new URL('./reference-batched.py', import.meta.url).pathname, clip.path, ref.modelDir,
        '--lang', clip.lang, '--beam', String(a.beam), '--batch', String(a.batch), '--threads', String(a.threads),
      ]);
      if (out.code !== 0) throw new Error(`reference-batched.py failed: ${out.stderr}`);
      const r = JSON.parse(out.stdout.trim().split('\n').pop() ?? '{}') as { audio_s: number; proc_s: number; rtf: number; text: string; peak_rss_mb: number };
      log(`${clip.file}: Sori long-form in-process...`);
      const s = await runLongform(engine, vad, clip.path, clip.lang);
      const sRtf = s.procS / r.audio_s;
      const score = (text: string) => scoreClip({ lang: clip.lang, reference: clip.reference, referenceSpelled: clip.referenceSpelled }, text);
      rows.push([clip.file, Math.round(r.audio_s), r.rtf.toFixed(4), sRtf.toFixed(4), `${(sRtf / r.rtf).toFixed(2)}x`, pct(score(r.text).rate), pct(score(s.text).rate), Math.round(r.peak_rss_mb)]);
    }
  } finally {
    await engine.close();
    await vad.close();
  }
  console.log(formatTable(['file', 'audio s', 'RTF faster-whisper batched', 'RTF Sori long-form', 'Sori / reference', 'error rate reference', 'error rate Sori', 'reference peak MB'], rows));
  console.log(`\nbeam ${a.beam}, batch ${a.batch}, ${a.threads} threads. ${NORMALISATION_NOTE}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
