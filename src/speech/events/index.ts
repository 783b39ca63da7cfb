/** Sound-event detection (CLOVA's `sed`): what the rest of Sori may use of speech/events/. */
export {
  EventDetector, EventSession, EventInputError, EventDetectorError, sharedEventDetector, detectEvents, eventTypes,
  type EventDetectorOptions, type EventSessionOptions, type SoundEvent, type LabelThresholds, type PatchTiming,
} from './detector.js';
export { LABELS, type LabelDef } from './labels.js';
export { DEFAULT_PATCH_HOP_FRAMES, DEFAULT_THRESHOLDS, DEFAULT_TIMING } from './thresholds.js';
