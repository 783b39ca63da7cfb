import { parentPort, workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import { loadWhisperModel } from './whisper/model.js';
import { WhisperTranscriber } from './whisper/transcriber.js';
import type { FromWorker, ToWorker, WorkerInit } from './worker-protocol.js';

/**
 * Inference worker: owns one copy of the Whisper sessions and runs one request at a time, so the
 * HTTP event loop never waits on onnxruntime (its `run` is synchronous native code).
 */
const port = parentPort;
if (!port) throw new Error('whisper-worker must run as a worker thread');
const init = workerData as WorkerInit;
const send = (m: FromWorker): void => port.postMessage(m);
const aborts = new Map<number, AbortController>();

try {
  const model = await loadWhisperModel(init.modelDir, init.modelName, init.threads);
  const transcriber = new WhisperTranscriber(model);
  // Warm-up: the first run allocates arenas and picks kernels; keep that off the first request.
  await transcriber.transcribe(new Float32Array(16000), { language: 'en', beamSize: 1, wordTimestamps: false, temperatureFallback: false });
  port.on('message', (msg: ToWorker) => {
    if (msg.type === 'abort') {
      aborts.get(msg.id)?.abort();
      return;
    }
    const ac = new AbortController();
    aborts.set(msg.id, ac);
    transcriber
      .transcribe(msg.pcm, { ...msg.opts, signal: ac.signal })
      .then((transcript) => send({ type: 'result', id: msg.id, transcript }))
      .catch((err: unknown) => {
        const e = err instanceof Error ? err : new Error(String(err));
        send({ type: 'error', id: msg.id, name: e.name, message: e.message });
      })
      .finally(() => aborts.delete(msg.id));
  });
  send({ type: 'ready', version: `${init.modelName} (onnxruntime-node ${ort.env.versions.common}, int8)` });
} catch (err) {
  send({ type: 'init-error', message: err instanceof Error ? err.message : String(err) });
}
