/** Index of the largest value of each of `rows` rows of a [rows, vocab] logits array. */
export function argmaxRows(logits: Float32Array, rows: number): number[] {
  const v = logits.length / rows;
  return Array.from({ length: rows }, (_, r) => {
    let best = 0;
    for (let i = 1; i < v; i++) if (logits[r * v + i] > logits[r * v + best]) best = i;
    return best;
  });
}
