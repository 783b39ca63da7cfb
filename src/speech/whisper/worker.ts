import ort from 'onnxruntime-node';
import { loadWhisperModel } from './model.js';
import { WhisperTranscriber } from './transcriber.js';
import { loadShortEncoder, type ShortEncoder } from './short-encoder.js';
import { loadGroupedDecoder } from './grouped-decoder.js';
import { BatchingDecoderRunner } from './step-batcher.js';
import type { FromWorker, ToWorker, WorkerInit } from './protocol.js';
import { RunGate } from './run-gate.js';
import { PRIORITIES } from '../engine.js';
import { SAMPLE_RATE } from '../../audio.js';
import { PronunciationAssessor } from '../assessment/assessor.js';
import { transcribeAndAssess } from './assessed-transcription.js';
import { ForcedTextScorer } from './forced-text.js';
import { parentSender } from './parent-channel.js';

/**
 * Inference process: owns one copy of the Whisper sessions. Model runs are synchronous native
 * calls, so one runs at a time; between them, the RunGate lets the most urgent request in flight go
 * first (the engine sends at most one request per class at once).
 * A separate process rather than a thread: onnxruntime's `run` is synchronous native code, a
 * crash in it must not take the HTTP server down, and a small HTTP process keeps fork() (every
 * ffmpeg spawn) cheap — its cost grows with the parent's resident memory.
 */
if (!process.send) throw new Error('speech/whisper/worker must run as a child process with an IPC channel');
const init = JSON.parse(process.env.SORI_WORKER_INIT ?? '{}') as WorkerInit;
// The parent going away (even by SIGKILL) closes the channel: do not linger as an orphan,
// whether that shows as 'disconnect' or as a failed send of a result ready just then.
const send = parentSender<FromWorker>(process, () => process.exit(0));
const aborts = new Map<number, AbortController>();
const gate = new RunGate(PRIORITIES.length);
process.on('disconnect', () => process.exit(0));

try {
  // The rewritten encoder takes any length up to a full window and computes full windows exactly
  // as the shipped one: it serves both, one copy of the weights. An export the graph edit does not
  // recognise keeps working with the shipped encoder, without shortContext.
  let short: ShortEncoder | undefined;
  let shortNote = '';
  const warnings: string[] = [];
  const cache = init.modelCacheDir === undefined ? undefined : {
    dir: init.modelCacheDir,
    // A path of the server's disk: for the log, not for the version clients see in results.
    onError: (err: Error) => {
      const w = `model cache ${init.modelCacheDir} unusable, weights loaded from memory (~100 MB more): ${err.message}`;
      // Each graph fails alike (the encoder's and the decoder's): one line says it.
      if (!warnings.includes(w)) warnings.push(w);
    },
  };
  try {
    short = await loadShortEncoder(init.modelDir, init.threads, { precomputeSilence: false, cache });
  } catch (err) {
    shortNote = `; short-context encoder unavailable: ${err instanceof Error ? err.message : String(err)}`;
  }
  // Batching: the grouped decoder (it decodes one request exactly as the shipped graph does) is
  // the only decoder session, and a runner joins the steps of concurrent requests.
  const batch = init.batch ?? 1;
  // A long recording's windows decoded in lockstep need the grouped graph too; without padding
  // (their searches stay at equal lengths) it computes one request exactly as the shipped one.
  const lockstep = batch > 1 || (init.windowBatch ?? 1) > 1;
  const decoder = lockstep ? (await loadGroupedDecoder(init.modelDir, init.threads, { padding: batch > 1, cache })).session : undefined;
  const model = await loadWhisperModel(init.modelDir, init.modelName, init.threads, { encoder: short?.session, decoder, cache });
  const transcriber = new WhisperTranscriber(model, short, batch > 1 ? new BatchingDecoderRunner(model, batch) : undefined);
  // Its models load on the first assessment request, not here: most servers never get one.
  const scorer = new ForcedTextScorer(model);
  const assessor = new PronunciationAssessor({ modelsDir: init.modelsDir, threads: init.threads, referenceCacheSize: init.referenceCacheSize });
  // Warm-up: the first run allocates arenas and picks kernels; keep that off the first request.
  const warm = { language: 'en', beamSize: 1, wordTimestamps: false, temperatureFallback: false };
  await transcriber.transcribe(new Float32Array(SAMPLE_RATE), warm);
  if (short) await transcriber.transcribe(new Float32Array(SAMPLE_RATE), { ...warm, shortContext: true });
  // The warm-up leaves the short-context padding's K/V (~74 MB), which only streams and
  // SORI_SHORT_REQUEST_CONTEXT=audio use. Kept, it raised the peak of full-window requests by as
  // much (600 -> 525 MB in-process); the first short-context request computes it again, once.
  transcriber.dropShortContextBuffers();
  process.on('message', (msg: ToWorker) => {
    if (msg.type === 'abort') {
      aborts.get(msg.id)?.abort();
      return;
    }
    const ac = new AbortController();
    aborts.set(msg.id, ac);
    const rank = Math.min(Math.max(0, msg.rank), PRIORITIES.length - 1);
    gate.enter(rank);
    const opts = { ...msg.opts, signal: ac.signal, turn: () => gate.turn(rank) };
    const work = msg.assessment !== undefined
      ? transcribeAndAssess(transcriber, scorer, assessor, msg.pcms[0], opts, msg.assessment).then((t) => [t])
      : transcriber.transcribeMany(msg.pcms, opts, lockstep);
    work
      .then((transcripts) => send({ type: 'result', id: msg.id, transcripts }))
      .catch((err: unknown) => {
        const e = err instanceof Error ? err : new Error(String(err));
        send({ type: 'error', id: msg.id, name: e.name, message: e.message });
      })
      .finally(() => {
        aborts.delete(msg.id);
        gate.leave(rank);
      });
  });
  send({ type: 'ready', version: `${init.modelName} (onnxruntime-node ${ort.env.versions.common}, int8)${shortNote}`, warnings });
} catch (err) {
  send({ type: 'init-error', message: err instanceof Error ? err.message : String(err) });
  process.exitCode = 1;
  process.disconnect();
}
