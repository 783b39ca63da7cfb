import type ort from 'onnxruntime-node';

/**
 * Word timings from cross-attention, after openai-whisper's `find_alignment`: the alignment heads'
 * attention over audio frames, normalised per head, median-filtered, averaged, then a DTW path
 * from tokens to frames. Times in seconds relative to the window.
 */
export interface AlignedWord {
  text: string;
  start: number;
  end: number;
  probability: number;
  /** Index of the word's first token in the window's text tokens. */
  firstToken: number;
}

const FRAMES_PER_SECOND = 50; // encoder frames: 1500 per 30 s
const MEDFILT_WIDTH = 7;
const NO_SPACE_LANGUAGES = new Set(['zh', 'ja', 'th', 'lo', 'my', 'yue']);
const PREPEND = '"\'“¿([{-';
const APPEND = '"\'.。,，!！?？:：”)]}、';

/**
 * @param attentions cross-attention maps of the layers named in `heads` (index = layer), each
 *   [1, heads, tokens, 1500]
 * @param rowOffset index of the first row that belongs to `text tokens` minus one (the no-timestamps row)
 */
export function alignWords(opts: {
  attentions: Map<number, ort.Tensor>;
  heads: [number, number][];
  rowOffset: number;
  textTokens: number[];
  tokenProbs: number[];
  numFrames: number;
  language: string;
  decode: (tokens: number[]) => string;
}): AlignedWord[] {
  const { textTokens } = opts;
  if (textTokens.length === 0) return [];
  const frames = Math.max(1, Math.min(1500, Math.floor(opts.numFrames / 2)));
  const rows = textTokens.length + 1; // the no-timestamps row, then one per text token
  const matrix = new Float64Array(rows * frames);
  for (const [layer, head] of opts.heads) {
    const t = opts.attentions.get(layer);
    if (!t) continue;
    const [, nHeads, nTok, nFrames] = t.dims as number[];
    if (head >= nHeads) continue;
    const data = t.data as Float32Array;
    const w = new Float64Array(rows * frames);
    // Standardise each frame column across tokens, as openai does over dim -2. Row-major passes
    // with per-column sums: walking down columns missed the cache on every cell.
    const mean = new Float64Array(frames);
    const sq = new Float64Array(frames);
    for (let r = 0; r < rows; r++) {
      const base = (head * nTok + opts.rowOffset + r) * nFrames;
      const o = r * frames;
      for (let f = 0; f < frames; f++) {
        const v = data[base + f];
        w[o + f] = v;
        mean[f] += v;
        sq[f] += v * v;
      }
    }
    for (let f = 0; f < frames; f++) {
      mean[f] /= rows;
      // Var = E[x²] - E[x]², clamped: attention weights are in [0, 1], so cancellation is harmless.
      sq[f] = 1 / (Math.sqrt(Math.max(0, sq[f] / rows - mean[f] * mean[f])) || 1);
    }
    for (let r = 0; r < rows; r++) {
      const o = r * frames;
      for (let f = 0; f < frames; f++) w[o + f] = (w[o + f] - mean[f]) * sq[f];
    }
    const filtered = medianFilterRows(w, rows, frames, MEDFILT_WIDTH);
    const share = 1 / opts.heads.length;
    for (let i = 0; i < matrix.length; i++) matrix[i] += filtered[i] * share;
  }
  const { textIndices, timeIndices } = dtw(matrix, rows, frames);
  // Row 0 is the no-timestamps token; text token i is row i + 1... openai keeps that row, so jumps
  // line up with token boundaries: jump k marks where token k starts.
  const jumpTimes: number[] = [];
  let prev = -1;
  for (let k = 0; k < textIndices.length; k++) {
    if (textIndices[k] !== prev) jumpTimes.push(timeIndices[k] / FRAMES_PER_SECOND);
    prev = textIndices[k];
  }
  const words = splitWords(textTokens, opts.language, opts.decode);
  const out: AlignedWord[] = [];
  let boundary = 0;
  for (const w of words) {
    const a = boundary;
    const b = boundary + w.tokens.length;
    boundary = b;
    const start = jumpTimes[Math.min(a, jumpTimes.length - 1)] ?? 0;
    const end = jumpTimes[Math.min(b, jumpTimes.length - 1)] ?? start;
    let p = 0;
    for (let i = a; i < b; i++) p += opts.tokenProbs[i] ?? 0;
    out.push({ text: w.text, start, end: Math.max(start, end), probability: p / Math.max(1, b - a), firstToken: a });
  }
  return mergePunctuation(out);
}

interface WordTokens { text: string; tokens: number[] }

function splitOnUnicode(tokens: number[], decode: (t: number[]) => string): WordTokens[] {
  const out: WordTokens[] = [];
  let cur: number[] = [];
  for (const t of tokens) {
    cur.push(t);
    const s = decode(cur);
    if (!s.includes('\ufffd')) {
      out.push({ text: s, tokens: cur });
      cur = [];
    }
  }
  if (cur.length) out.push({ text: decode(cur), tokens: cur });
  return out;
}

function splitWords(tokens: number[], language: string, decode: (t: number[]) => string): WordTokens[] {
  const pieces = splitOnUnicode(tokens, decode);
  if (NO_SPACE_LANGUAGES.has(language)) return pieces;
  const out: WordTokens[] = [];
  for (const p of pieces) {
    const withSpace = p.text.startsWith(' ');
    const punct = /^[\p{P}\p{S}]+$/u.test(p.text.trim());
    if (withSpace || punct || out.length === 0) out.push({ text: p.text, tokens: [...p.tokens] });
    else {
      const last = out[out.length - 1];
      last.text += p.text;
      last.tokens.push(...p.tokens);
    }
  }
  return out;
}

function mergePunctuation(words: AlignedWord[]): AlignedWord[] {
  const out: AlignedWord[] = [];
  for (const w of words) {
    const t = w.text.trim();
    const prev = out[out.length - 1];
    if (prev && t.length > 0 && [...t].every((c) => APPEND.includes(c))) {
      prev.text += w.text.trimStart();
      continue;
    }
    out.push({ ...w });
  }
  for (let i = out.length - 2; i >= 0; i--) {
    const t = out[i].text.trim();
    if (t.length > 0 && [...t].every((c) => PREPEND.includes(c))) {
      out[i + 1] = { ...out[i + 1], text: out[i].text + out[i + 1].text.trimStart(), start: out[i].start, firstToken: out[i].firstToken };
      out.splice(i, 1);
    }
  }
  return out;
}

/**
 * Median over `width` columns of each row, reflect-padded like openai's median_filter. A sorted
 * window slides along the row (one value out, one in): sorting seven values per cell cost
 * 30 ms per head on a 30 s window, this costs 7.
 */
export function medianFilterRows(w: Float64Array, rows: number, cols: number, width: number): Float64Array {
  const half = Math.floor(width / 2);
  if (cols <= width) return medianFilterRowsDirect(w, rows, cols, width);
  const out = new Float64Array(w.length);
  const win = new Float64Array(width);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let k = 0; k < width; k++) win[k] = w[base + Math.abs(k - half)];
    win.sort();
    out[base] = win[half];
    for (let c = 1; c < cols; c++) {
      const outgoing = w[base + Math.abs(c - 1 - half)];
      let inIdx = c + half;
      if (inIdx >= cols) inIdx = 2 * cols - inIdx - 2;
      const incoming = w[base + inIdx];
      let p = 0;
      while (p < width - 1 && win[p] !== outgoing) p++; // bounded even if a NaN slipped in
      if (incoming > outgoing) {
        while (p + 1 < width && win[p + 1] < incoming) { win[p] = win[p + 1]; p++; }
      } else {
        while (p > 0 && win[p - 1] > incoming) { win[p] = win[p - 1]; p--; }
      }
      win[p] = incoming;
      out[base + c] = win[half];
    }
  }
  return out;
}

/** The plain form, for rows too short to slide over. */
export function medianFilterRowsDirect(w: Float64Array, rows: number, cols: number, width: number): Float64Array {
  const out = new Float64Array(w.length);
  const half = Math.floor(width / 2);
  const buf = new Float64Array(width);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) {
      for (let k = -half; k <= half; k++) {
        let idx = c + k;
        if (idx < 0) idx = -idx;
        if (idx >= cols) idx = 2 * cols - idx - 2;
        idx = Math.min(Math.max(idx, 0), cols - 1);
        buf[k + half] = w[base + idx];
      }
      buf.sort();
      out[base + c] = buf[half];
    }
  }
  return out;
}

/** Minimum-cost monotone path through -matrix (openai's dtw_cpu). */
function dtw(matrix: Float64Array, N: number, M: number): { textIndices: number[]; timeIndices: number[] } {
  const W = M + 1;
  const cost = new Float64Array((N + 1) * W).fill(Infinity);
  const trace = new Int8Array((N + 1) * W).fill(-1);
  cost[0] = 0;
  for (let j = 1; j <= M; j++) {
    for (let i = 1; i <= N; i++) {
      const c0 = cost[(i - 1) * W + j - 1];
      const c1 = cost[(i - 1) * W + j];
      const c2 = cost[i * W + j - 1];
      let c: number;
      let t: number;
      if (c0 < c1 && c0 < c2) { c = c0; t = 0; } else if (c1 < c0 && c1 < c2) { c = c1; t = 1; } else { c = c2; t = 2; }
      cost[i * W + j] = -matrix[(i - 1) * M + j - 1] + c;
      trace[i * W + j] = t;
    }
  }
  for (let j = 0; j <= M; j++) trace[j] = 2;
  for (let i = 0; i <= N; i++) trace[i * W] = 1;
  let i = N;
  let j = M;
  const ti: number[] = [];
  const fi: number[] = [];
  while (i > 0 || j > 0) {
    ti.push(i - 1);
    fi.push(j - 1);
    const t = trace[i * W + j];
    if (t === 0) { i--; j--; } else if (t === 1) i--; else j--;
  }
  ti.reverse();
  fi.reverse();
  return { textIndices: ti, timeIndices: fi };
}
