// Live microphone transcription: filled in by the next step.
export function setupLive() {}
