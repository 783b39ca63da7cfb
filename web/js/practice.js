// Pronunciation practice: filled in by a later step.
export function setupPractice() {}
