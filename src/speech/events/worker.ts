/**
 * Worker thread owning the YAMNet session. onnxruntime-node's `run` is synchronous native code;
 * here it blocks only this thread, never the server's event loop. A thread rather than a child
 * process (as Whisper uses): the model is 15 MB and a patch takes milliseconds, so a process
 * per server would cost more than it protects.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { setPriority } from 'node:os';
import ort from 'onnxruntime-node';
import { toWorkerSchema, workerInitSchema, type FromEventWorker } from './protocol.js';
import { YamnetModel, readClassNames } from './yamnet.js';
import { INFERENCE_NICE } from '../../process-priority.js';

const port = parentPort;
if (!port) throw new Error('the event worker must run as a worker thread');
const send = (m: FromEventWorker, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);

try {
  const init = workerInitSchema.parse(workerData);
  // On Linux niceness is per thread: this lowers only this thread (and the ones onnxruntime starts
  // from it), so the HTTP event loop in the main thread keeps its priority.
  try {
    setPriority(INFERENCE_NICE);
  } catch {
    // Not permitted in some containers: results are the same, only latency elsewhere suffers.
  }
  const model = await YamnetModel.load(init.modelDir, init.threads);
  const classNames = readClassNames(init.modelDir);
  // Requests are handled strictly one after another: a chain, so that a second message arriving
  // while a run awaits cannot interleave with it.
  let chain: Promise<void> = Promise.resolve();
  port.on('message', (raw: unknown) => {
    const parsed = toWorkerSchema.safeParse(raw);
    if (!parsed.success) {
      const id = typeof raw === 'object' && raw !== null && 'id' in raw && typeof raw.id === 'number' ? raw.id : -1;
      send({ type: 'error', id, message: `bad request to the event worker: ${parsed.error.message}` });
      return;
    }
    const msg = parsed.data;
    if (msg.type === 'close') {
      void chain.then(() => model.release()).finally(() => process.exit(0));
      return;
    }
    chain = chain.then(async () => {
      try {
        const { scores, patches } = await model.classify(msg.pcm, msg.hopFrames);
        send({ type: 'scores', id: msg.id, patches, scores }, [scores.buffer as ArrayBuffer]);
      } catch (err) {
        send({ type: 'error', id: msg.id, message: err instanceof Error ? err.message : String(err) });
      }
    });
  });
  send({ type: 'ready', version: `yamnet-int8 (onnxruntime-node ${ort.env.versions.common})`, classNames });
} catch (err) {
  send({ type: 'init-error', message: err instanceof Error ? err.message : String(err) });
}
