/**
 * Compute thread for diarization: owns the segmentation and speaker-embedding sessions and also
 * runs the end-of-session clustering. onnxruntime-node's `run` is synchronous native code and
 * clustering a long recording takes a second or more of plain JavaScript; here both block this
 * thread only, never the HTTP event loop. Requests are served one at a time in arrival order (the
 * message queue), which also keeps a 2-core machine from being oversubscribed by many sessions.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { setPriority } from 'node:os';
import ort from 'onnxruntime-node';
import { diarizeWindows } from './pipeline.js';
import type { FromWorker, ToWorker, WorkerInit } from './protocol.js';
import { WINDOW_SAMPLES } from './segmentation.js';
import { SAMPLE_RATE } from '../../audio.js';
import { GuardedSession } from '../onnx-runs.js';

const port = parentPort;
if (!port) throw new Error('diarization worker must run as a worker thread');
const init = workerData as WorkerInit;
const send = (m: FromWorker, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);

// On Linux a nice value set from a thread applies to that thread alone (and to threads it starts
// later, such as onnxruntime's pool): inference yields to the HTTP thread without renicing it.
// Elsewhere it would renice the whole process, so it is left alone there.
if (process.platform === 'linux') {
  try {
    setPriority(10);
  } catch {
    // Not permitted in some containers: only latency suffers.
  }
}

// No spinning: with threads > 1, onnxruntime's pool would otherwise busy-wait between runs,
// taking a core from Whisper running beside it (measured no slower on one thread either way;
// graph optimisation level and arena settings made no measurable difference, so defaults stay).
const opts: ort.InferenceSession.SessionOptions = {
  intraOpNumThreads: init.threads,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
};

try {
  // Released after their runs in flight, and refusing runs from then on (onnx-runs.ts): what
  // closing this worker needs.
  const seg = new GuardedSession(await ort.InferenceSession.create(init.segmentationPath, opts));
  const emb = new GuardedSession(await ort.InferenceSession.create(init.embeddingPath, opts));
  const segIn = seg.session.inputNames[0];
  const segOut = seg.session.outputNames[0];
  const embIn = emb.session.inputNames[0];
  const embOut = emb.session.outputNames[0];

  const segment = async (pcm: Float32Array): Promise<Float32Array> => {
    if (pcm.length !== WINDOW_SAMPLES) throw new Error(`segment: expected ${WINDOW_SAMPLES} samples, got ${pcm.length}`);
    const out = await seg.run({ [segIn]: new ort.Tensor('float32', pcm, [1, 1, WINDOW_SAMPLES]) });
    return Float32Array.from(out[segOut].data as Float32Array);
  };
  const embed = async (msg: Extract<ToWorker, { type: 'embed' }>): Promise<Float32Array[]> => {
    const res: Float32Array[] = [];
    for (const b of msg.batches) {
      const out = await emb.run({ [embIn]: new ort.Tensor('float32', b.data, [b.count, b.length]) });
      // Every partial's embedding: the caller averages them, or splits a local speaker whose
      // partials are two voices (split.ts).
      res.push(Float32Array.from(out[embOut].data as Float32Array));
    }
    return res;
  };

  // Warm-up: the first run allocates arenas and picks kernels; keep that off the first request.
  await segment(new Float32Array(WINDOW_SAMPLES));
  await embed({ type: 'embed', id: 0, batches: [{ data: new Float32Array(SAMPLE_RATE), count: 1, length: SAMPLE_RATE, starts: [0] }] });

  port.on('message', (msg: ToWorker) => {
    if (msg.type === 'close') {
      // A request arriving after this fails with the sessions' "released" error, not a run on them.
      void Promise.all([seg.release(), emb.release()]).finally(() => process.exit(0));
      return;
    }
    let work: Promise<void>;
    if (msg.type === 'segment') {
      work = segment(msg.pcm).then((logProbs) => send({ type: 'segmented', id: msg.id, logProbs }, [logProbs.buffer as ArrayBuffer]));
    } else if (msg.type === 'embed') {
      work = embed(msg).then((embeddings) => send({ type: 'embedded', id: msg.id, embeddings }, embeddings.map((e) => e.buffer as ArrayBuffer)));
    } else {
      const j = msg.job;
      work = Promise.resolve().then(() => send({ type: 'diarized', id: msg.id, turns: diarizeWindows(j.windows, j.stepFrames, j.totalSamples, j.params, j.bounds) }));
    }
    work.catch((err: unknown) => send({ type: 'error', id: msg.id, message: err instanceof Error ? err.message : String(err) }));
  });
  send({ type: 'ready' });
} catch (err) {
  send({ type: 'init-error', message: err instanceof Error ? err.message : String(err) });
}
