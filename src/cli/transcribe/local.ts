/**
 * `sori transcribe` without a server: the engine, VAD and speaker models in this process (Whisper
 * in its inference processes, as the server runs it), each file through jobs/transcribe-media.ts,
 * the function the server's job runner runs for every long-form job.
 */
import { randomBytes } from 'node:crypto';
import { LongformError } from '../../clova/longform-errors.js';
import { parseLongformParams, type LongformParams } from '../../clova/longform-params.js';
import type { CompletedResult } from '../../clova/longform-result.js';
import { DEFAULT_DOMAIN, type LocalSettings } from '../../config.js';
import { lazyEnrichDeps } from '../../jobs/enrich.js';
import { classifyFailure } from '../../jobs/failures.js';
import { transcribeMedia, type TranscribeMediaDeps } from '../../jobs/transcribe-media.js';
import { toolLimits } from '../../media/decode.js';
import { createEngine, type SpeechEngine } from '../../speech/index.js';
import { sharedVadLoader } from '../../speech/vad/silero.js';
import { UsageError } from '../command-io.js';
import { FileFailure, type Backend, type FileHooks } from './backend.js';

export interface LocalOptions {
  settings: LocalSettings;
  /** CLOVA's long-form params (args.ts), parsed here as the server parses an upload's. */
  params: Record<string, unknown>;
  /** Engine events (an inference process restarting). */
  onLog: (message: string) => void;
}

/** Loads the model (and fails here, once, if it cannot) before any file starts. */
export async function openLocalBackend(opts: LocalOptions): Promise<Backend> {
  const { settings } = opts;
  let params: LongformParams;
  try {
    params = parseLongformParams(opts.params, settings.defaultLanguage);
  } catch (err) {
    if (err instanceof LongformError) throw new UsageError(err.message);
    throw err;
  }
  const modelsDir = settings.models.dir;
  let engine: SpeechEngine;
  try {
    engine = createEngine({
      modelsDir,
      model: settings.models.asr,
      threads: settings.engine.threads,
      parallel: settings.engine.parallel,
      batch: settings.engine.batch,
      windowBatch: settings.engine.windowBatch,
      queueLimit: settings.engine.queueLimit,
      beamSize: settings.engine.beamSize,
      referenceCacheSize: settings.engine.referenceCacheSize,
      onLog: opts.onLog,
    });
  } catch (err) {
    // The registry's message already says how to get the model; where to look is this command's to add.
    throw new Error(`${(err as Error).message} (another models folder: --dir or SORI_MODELS_DIR)`);
  }
  const enrich = lazyEnrichDeps(modelsDir);
  const vad = sharedVadLoader(modelsDir);
  const deps: TranscribeMediaDeps = { engine, vad, enrich, config: settings, tools: toolLimits(settings.media) };
  const close = async (): Promise<void> => {
    await engine.close();
    await enrich.close();
    await vad.close();
  };
  try {
    await engine.ready();
  } catch (err) {
    await close();
    throw new Error(`the model ${settings.models.asr} could not be loaded from ${modelsDir}: ${(err as Error).message}`);
  }
  return {
    // As many files at once as the server's job workers.
    concurrency: settings.jobs.workers,
    close,
    async transcribe(path: string, hooks: FileHooks): Promise<CompletedResult> {
      hooks.onStarted();
      try {
        const { result } = await transcribeMedia(
          deps,
          { token: randomBytes(16).toString('hex'), domain: DEFAULT_DOMAIN, params, mediaPath: path, resumeAtMs: 0, done: [] },
          { signal: hooks.signal, onDuration: hooks.onDuration, onProgress: hooks.onProgress },
        );
        return result;
      } catch (err) {
        if (hooks.signal.aborted) throw err;
        throw new FileFailure(describeFailure(err));
      }
    },
  };
}

/** What the server would answer the job failed with, or the error itself where it says "internal error". */
function describeFailure(err: unknown): string {
  const failure = classifyFailure(err);
  if (failure.code === 'ERROR_INTERNAL_ERROR' && failure.message === 'internal error') return err instanceof Error ? err.message : String(err);
  return failure.message;
}
