import type { LogProbMatrix } from '../../src/speech/phonemes/alignment.js';

/** A log-prob matrix over `vocabSize` tokens whose frame t puts `p` on `winners[t]` and shares the rest evenly. */
export function peakedMatrix(winners: number[], vocabSize: number, p = 0.9): LogProbMatrix {
  const frames = new Float32Array(winners.length * vocabSize);
  winners.forEach((w, t) => {
    for (let v = 0; v < vocabSize; v++) frames[t * vocabSize + v] = Math.log(v === w ? p : (1 - p) / (vocabSize - 1));
  });
  return { frames, frameCount: winners.length, vocabSize };
}
