import type { Worker } from 'node:worker_threads';

/**
 * Stops an inference worker thread by asking it to: it finishes its run in flight, releases its
 * ONNX sessions and exits. `worker.terminate()` in the middle of a run tore the thread's
 * environment down under onnxruntime's completion, which threw a C++ `Napi::Error` nothing
 * caught, and the whole process aborted (exit 134): SIGTERM during a long-form job's diarization.
 * terminate() stays the fallback for a worker that does not answer within `timeoutMs`.
 */
export async function stopWorker(worker: Worker, closeMessage: unknown, timeoutMs = 10_000): Promise<void> {
  if (worker.threadId === -1) return; // already exited
  // Unreferenced while idle (so it does not keep the process alive): its exit is awaited now.
  worker.ref();
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), timeoutMs);
  });
  try {
    worker.postMessage(closeMessage);
  } catch {
    // The port is closed: the thread is on its way out.
  }
  const outcome = await Promise.race([exited.then(() => 'exited' as const), late]);
  clearTimeout(timer);
  if (outcome === 'late') await worker.terminate();
}
