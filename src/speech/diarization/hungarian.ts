/**
 * Minimum-cost assignment on a rectangular matrix (Hungarian method with potentials, O(n^2 m)).
 * Used to keep two local speakers of one window in different clusters, and by the DER scorer to
 * map hypothesis speakers onto reference speakers.
 */

/**
 * `cost[r][c]`, rows x cols. Returns for each row its column, or -1 when there are more rows than
 * columns and that row was left out. The total cost over assigned rows is minimal.
 */
export function assignMinCost(cost: readonly (readonly number[])[]): number[] {
  const rows = cost.length;
  const cols = rows === 0 ? 0 : cost[0].length;
  if (rows === 0) return [];
  if (cols === 0) return new Array<number>(rows).fill(-1);
  if (rows > cols) {
    // The method needs rows <= cols: solve the transpose and invert the answer.
    const t = Array.from({ length: cols }, (_, c) => Array.from({ length: rows }, (_, r) => cost[r][c]));
    const colToRow = assignMinCost(t);
    const out = new Array<number>(rows).fill(-1);
    colToRow.forEach((r, c) => {
      if (r >= 0) out[r] = c;
    });
    return out;
  }
  const n = rows;
  const m = cols;
  // 1-based arrays as in the classic formulation; index 0 is the virtual start column.
  const u = new Float64Array(n + 1);
  const v = new Float64Array(m + 1);
  const p = new Int32Array(m + 1); // p[j]: row matched to column j (0 = none)
  const way = new Int32Array(m + 1);
  for (let i = 1; i <= n; i++) {
    p[0] = i;
    let j0 = 0;
    const minv = new Float64Array(m + 1).fill(Infinity);
    const used = new Uint8Array(m + 1);
    do {
      used[j0] = 1;
      const i0 = p[j0];
      let delta = Infinity;
      let j1 = 0;
      for (let j = 1; j <= m; j++) {
        if (used[j]) continue;
        const cur = cost[i0 - 1][j - 1] - u[i0] - v[j];
        if (cur < minv[j]) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j] < delta) {
          delta = minv[j];
          j1 = j;
        }
      }
      for (let j = 0; j <= m; j++) {
        if (used[j]) {
          u[p[j]] += delta;
          v[j] -= delta;
        } else minv[j] -= delta;
      }
      j0 = j1;
    } while (p[j0] !== 0);
    do {
      const j1 = way[j0];
      p[j0] = p[j1];
      j0 = j1;
    } while (j0 !== 0);
  }
  const out = new Array<number>(n).fill(-1);
  for (let j = 1; j <= m; j++) if (p[j] > 0) out[p[j] - 1] = j - 1;
  return out;
}

/** The same, maximising the total score. */
export function assignMaxScore(score: readonly (readonly number[])[]): number[] {
  return assignMinCost(score.map((row) => row.map((x) => -x)));
}
