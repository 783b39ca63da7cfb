import type ort from 'onnxruntime-node';

type Feeds = ort.InferenceSession.FeedsType;
type Outputs = ort.InferenceSession.ReturnType;

/**
 * One ONNX session whose release waits for the runs in flight. Releasing a session while a run
 * is still on ORT's threads makes that run's completion throw a C++ `Napi::Error` that nothing
 * catches, and Node aborts ("terminate called after throwing an instance of 'Napi::Error'", exit
 * 134): seen when SIGTERM interrupted a long-form job in the middle of its VAD pass.
 */
export class GuardedSession {
  private readonly inflight = new Set<Promise<Outputs>>();
  private released = false;

  constructor(readonly session: ort.InferenceSession) {}

  run(feeds: Feeds): Promise<Outputs> {
    if (this.released) return Promise.reject(new Error('the model was released (shutting down)'));
    const p = this.session.run(feeds);
    this.inflight.add(p);
    const forget = (): void => void this.inflight.delete(p);
    p.then(forget, forget);
    return p;
  }

  /** Refuses new runs, waits for those in flight, then frees the model. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await Promise.allSettled([...this.inflight]);
    await this.session.release();
  }
}
