import { streamPcm } from '../media/pcm-stream.js';
import type { ToolLimits } from '../media/decode.js';
import { loadDiarizer, type Diarizer } from '../speech/diarization/index.js';
import { sharedEventDetector, type EventDetector, type SoundEvent } from '../speech/events/index.js';
import type { SpeakerTurn } from '../transcript/speakers.js';

export interface EnrichDeps {
  /** Loaded on first use, shared by every job. */
  diarizer: () => Promise<Diarizer>;
  events: () => EventDetector;
}

/** The models of a models folder, each loaded when a job first asks for it; `close` frees those that were. */
export function lazyEnrichDeps(modelsDir: string): EnrichDeps & { close(): Promise<void> } {
  let diarizer: Promise<Diarizer> | undefined;
  let events: EventDetector | undefined;
  return {
    diarizer: () => (diarizer ??= loadDiarizer(modelsDir)),
    events: () => (events ??= sharedEventDetector(modelsDir)),
    async close() {
      if (diarizer !== undefined) await (await diarizer.catch(() => undefined))?.close();
      await events?.close();
    },
  };
}

export interface EnrichRequest {
  mediaPath: string;
  diarization?: { speakerCountMin: number; speakerCountMax: number };
  sed: boolean;
  /** Longest accepted media, in seconds: decoding stops past it, as recognition's does. */
  maxSeconds?: number;
  tools?: ToolLimits;
  signal?: AbortSignal;
}

export interface Enrichment {
  turns?: SpeakerTurn[];
  events?: SoundEvent[];
}

/**
 * Speakers and sound events over the whole media, in one more streaming decode from the start.
 * Runs beside recognition (its models live in their own worker thread). Not checkpointed: after
 * a restart it runs again whole, which costs a fraction of recognition, and the labels it gives
 * must come from one pass over the whole file anyway (clustering sees every speaker).
 */
export async function enrichMedia(deps: EnrichDeps, req: EnrichRequest): Promise<Enrichment> {
  if (req.diarization === undefined && !req.sed) return {};
  const speakers = req.diarization === undefined ? undefined : (await deps.diarizer()).session({ speakerCountMin: req.diarization.speakerCountMin });
  const events = req.sed ? deps.events().session() : undefined;
  for await (const chunk of streamPcm(req.mediaPath, { ...req.tools, maxSeconds: req.maxSeconds, signal: req.signal })) {
    await Promise.all([speakers?.push(chunk), events?.push(chunk)]);
  }
  const bounds = req.diarization === undefined ? undefined : { speakerCountMin: req.diarization.speakerCountMin, speakerCountMax: req.diarization.speakerCountMax };
  const [turns, found] = await Promise.all([speakers?.finish(bounds), events?.finish()]);
  return {
    turns: turns?.map((t) => ({ start: Math.round(t.start * 1000), end: Math.round(t.end * 1000), speaker: String(t.speaker) })),
    events: found,
  };
}
