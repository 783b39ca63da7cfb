/**
 * Sori's engine in-process on a list of clips: the same work the reference does per clip
 * (decode the file, then transcribe), timed together so the RTFs compare like for like.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { EngineConfig, SpeechEngine } from '../../src/speech/engine.js';
import type { Clip } from './manifest.js';
import { corpusRates, scoreClip, type ClipScore, type CorpusRate } from './score.js';
import { progress } from './progress.js';
import { round, since } from './stats.js';
import type { RunTotals } from './stats.js';

export const MODEL = 'whisper-base';

export interface ClipResult {
  file: string;
  lang: string;
  durationS: number;
  /** decodeFile + transcribe, seconds. */
  procS: number;
  decodeS: number;
  text: string;
  score: ClipScore;
}

export interface EngineRun extends RunTotals {
  rates: CorpusRate[];
  perClip: ClipResult[];
}

// Imported lazily so that the reference half of the bench, and the scoring tests, work
// while the engine or decoder are still being written.
async function importOrExplain<T>(specifier: string, what: string): Promise<T> {
  const source = fileURLToPath(new URL(specifier.replace(/\.js$/, '.ts'), import.meta.url));
  if (!existsSync(source)) throw new Error(`${what} (${source}) does not exist yet`);
  return (await import(specifier)) as T;
}

type DecodeFile = (path: string) => Promise<{ pcm: Float32Array; durationS: number }>;

export async function loadDecoder(): Promise<DecodeFile> {
  const m = await importOrExplain<{ decodeFile: DecodeFile }>('../../src/media/decode.js', 'the audio decoder');
  return (path) => m.decodeFile(path);
}

export async function openEngine(cfg: { modelsDir: string; threads: number; beamSize: number; windowBatch?: number }): Promise<SpeechEngine> {
  const m = await importOrExplain<{ createEngine: (c: EngineConfig) => SpeechEngine }>(
    '../../src/speech/index.js',
    'the speech engine factory',
  );
  const engine = m.createEngine({
    modelsDir: cfg.modelsDir,
    model: MODEL,
    threads: cfg.threads,
    // One decode at a time with every thread, like the reference's single WhisperModel.
    parallel: 1,
    queueLimit: 16,
    beamSize: cfg.beamSize,
    windowBatch: cfg.windowBatch,
  });
  await engine.ready();
  return engine;
}

export async function runEngine(
  engine: SpeechEngine,
  decode: DecodeFile,
  clips: readonly Clip[],
  opts: {
    beamSize: number;
    threads: number;
    label: string;
    /** Untimed work after each clip: the bench interleaves the server's request for it. */
    afterEach?: (clip: Clip) => Promise<void>;
  },
): Promise<EngineRun> {
  const perClip: ClipResult[] = [];
  const bar = progress(opts.label, clips.length);
  try {
    for (const c of clips) {
      const t0 = performance.now();
      const { pcm } = await decode(c.path);
      const decodeS = since(t0);
      const tr = await engine.transcribe(pcm, {
        language: c.lang,
        beamSize: opts.beamSize,
        // faster-whisper's default temperature schedule is on in the reference as well.
        temperatureFallback: true,
        priority: 'batch',
      });
      const procS = since(t0);
      const score = scoreClip({ lang: c.lang, reference: c.reference, referenceSpelled: c.referenceSpelled }, tr.text);
      perClip.push({ file: c.file, lang: c.lang, durationS: c.durationS, procS, decodeS, text: tr.text, score });
      await opts.afterEach?.(c);
      bar.tick(`${c.file} rtf ${(procS / c.durationS).toFixed(3)}`);
    }
  } finally {
    bar.stop();
  }
  // Audio seconds from the manifest, as reference.py counts them.
  const audioS = perClip.reduce((s, r) => s + r.durationS, 0);
  const procS = perClip.reduce((s, r) => s + r.procS, 0);
  return {
    engine: engine.version,
    beam: opts.beamSize,
    threads: opts.threads,
    clips: perClip.length,
    audioS: round(audioS, 3),
    procS: round(procS, 3),
    rtf: audioS > 0 ? procS / audioS : NaN,
    rates: corpusRates(perClip.map((r) => ({ lang: r.lang, score: r.score }))),
    perClip,
  };
}
