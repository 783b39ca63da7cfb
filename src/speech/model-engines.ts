/**
 * A server's speech engines by model name: the configured model's engine, always loaded, and
 * other installed Whisper models loaded when a request names one (the OpenAI-compatible route's
 * `model`). At most `maxOthers` of those are loaded at once, each with its own inference
 * process; for another, the least recently used idle one is closed. None idle: EngineBusyError.
 */
import { EngineBusyError, type SpeechEngine } from './engine.js';
import { installedWhisperModels, type InstalledWhisperModel } from './whisper/model.js';

export interface ModelEnginesOptions {
  /** The configured model (models.asr) and its engine, which this never closes. */
  defaultModel: string;
  defaultEngine: SpeechEngine;
  modelsDir: string;
  /** Models besides the default loaded at once; 0 = the default model only. */
  maxOthers: number;
  /** Makes the engine of another installed model (absent: the default model only). */
  create?: (model: string) => SpeechEngine;
}

export interface EngineLease {
  engine: SpeechEngine;
  /** Call once the request is done with the engine (an idle engine may then be closed for another). */
  release(): void;
}

interface Loaded {
  engine: SpeechEngine;
  users: number;
  lastUsed: number;
}

export class ModelEngines {
  private readonly others = new Map<string, Loaded>();
  private readonly closing = new Set<Promise<void>>();

  constructor(private readonly opts: ModelEnginesOptions) {}

  get defaultModel(): string {
    return this.opts.defaultModel;
  }

  get defaultEngine(): SpeechEngine {
    return this.opts.defaultEngine;
  }

  private get othersAllowed(): boolean {
    return this.opts.create !== undefined && this.opts.maxOthers > 0;
  }

  /** The models a request may name: the default first, then (when others may load) every other installed Whisper model. */
  available(): InstalledWhisperModel[] {
    const installed = installedWhisperModels(this.opts.modelsDir);
    const own = installed.find((m) => m.name === this.opts.defaultModel) ?? { name: this.opts.defaultModel, createdS: 0 };
    return [own, ...(this.othersAllowed ? installed.filter((m) => m.name !== this.opts.defaultModel) : [])];
  }

  /**
   * The engine of `model`, loading it if need be (its requests wait for the load); undefined when
   * no such model is available. Throws EngineBusyError when `maxOthers` models are loaded and all in use.
   */
  acquire(model: string): EngineLease | undefined {
    if (model === this.opts.defaultModel) return { engine: this.opts.defaultEngine, release: () => undefined };
    if (!this.othersAllowed) return undefined;
    let loaded = this.others.get(model);
    if (loaded === undefined) {
      if (!this.available().some((m) => m.name === model)) return undefined;
      if (this.others.size >= this.opts.maxOthers) this.evictIdle();
      loaded = { engine: (this.opts.create as (m: string) => SpeechEngine)(model), users: 0, lastUsed: 0 };
      this.others.set(model, loaded);
    }
    const entry = loaded;
    entry.users++;
    entry.lastUsed = Date.now();
    let released = false;
    return {
      engine: entry.engine,
      release: () => {
        if (released) return;
        released = true;
        entry.users--;
        entry.lastUsed = Date.now();
      },
    };
  }

  /** Other models loaded now, by name (for tests and logs). */
  loaded(): string[] {
    return [...this.others.keys()];
  }

  private evictIdle(): void {
    let victim: [string, Loaded] | undefined;
    for (const entry of this.others) {
      if (entry[1].users === 0 && (victim === undefined || entry[1].lastUsed < victim[1].lastUsed)) victim = entry;
    }
    if (victim === undefined) throw new EngineBusyError(`the ${this.opts.maxOthers} other model(s) that may be loaded at once are all in use`);
    this.others.delete(victim[0]);
    const closed = victim[1].engine.close().catch(() => undefined);
    this.closing.add(closed);
    void closed.finally(() => this.closing.delete(closed));
  }

  /** Closes the other models' engines (the default one is its owner's to close). */
  async close(): Promise<void> {
    const engines = [...this.others.values()].map((l) => l.engine);
    this.others.clear();
    await Promise.all([...engines.map((e) => e.close().catch(() => undefined)), ...this.closing]);
  }
}
