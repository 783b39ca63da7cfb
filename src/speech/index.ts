import type { EngineConfig, SpeechEngine } from './engine.js';
import { WhisperEngine } from './whisper/host.js';

export * from './engine.js';
export { TranscriptionAbortedError } from './whisper/host.js';

/** The one place an engine is chosen; today every model name is a Whisper export. */
export function createEngine(cfg: EngineConfig): SpeechEngine {
  return new WhisperEngine(cfg);
}
