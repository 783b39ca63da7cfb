/** One audio stream's diarization: push PCM as it is decoded, then finish() for the turns. */
import { WindowAnalyzer } from './analysis.js';
import type { ModelRunner } from './protocol.js';
import { parseFinishOptions, type DiarizerTuning, type FinishOptions } from './options.js';
import type { Turn } from './reconstruct.js';
import { SAMPLE_RATE } from '../../audio.js';

export class DiarizationSession {
  private readonly analyzer: WindowAnalyzer;
  /** Pushes run one after another even when a caller does not await each one. */
  private tail: Promise<void> = Promise.resolve();
  private finished = false;
  /** The first push failure: turns computed without that audio would be silently wrong. */
  private failure: unknown;

  constructor(private readonly runner: ModelRunner, private readonly tuning: DiarizerTuning) {
    this.analyzer = new WindowAnalyzer(runner, tuning);
  }

  /** Seconds of audio pushed so far. */
  get durationSeconds(): number {
    return this.analyzer.totalSamples / SAMPLE_RATE;
  }

  /**
   * 16 kHz mono float PCM, any chunk size. Resolves when the windows it completes are analysed,
   * which is the caller's backpressure. `pcm` is read before the promise resolves: do not
   * overwrite it until then.
   */
  push(pcm: Float32Array): Promise<void> {
    if (this.finished) return Promise.reject(new Error('DiarizationSession: push after finish'));
    const run = this.tail.then(() => {
      if (this.failure !== undefined) throw this.failure;
      return this.analyzer.push(pcm);
    });
    this.tail = run.catch((err: unknown) => {
      this.failure ??= err;
    });
    return run;
  }

  /**
   * Speaker turns of everything pushed. `speakerCountMin`/`speakerCountMax`: -1 (default) for
   * automatic, else 1..30; validated here, a bad value throws a ZodError.
   */
  async finish(opts: FinishOptions = {}): Promise<Turn[]> {
    const bounds = parseFinishOptions(opts);
    if (this.finished) throw new Error('DiarizationSession: finish called twice');
    this.finished = true;
    await this.tail;
    if (this.failure !== undefined) throw this.failure;
    await this.analyzer.flush();
    const a = this.analyzer;
    if (a.windows.length === 0) return [];
    return this.runner.diarize({ windows: a.windows, stepFrames: a.stepFrames, totalSamples: a.totalSamples, params: this.tuning, bounds });
  }
}
