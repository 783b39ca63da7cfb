/**
 * Subtitle cues from word timings: a cue never spans two segments (so never two speakers), holds
 * at most `maxLines` lines of at most `maxLineChars` characters, lasts between `minMs` and
 * `maxMs`, and breaks where the speaker pauses. Writers (SRT, VTT, SMI) only format these.
 */

export interface CueSource {
  start: number;
  end: number;
  text: string;
  /** [start ms, end ms, text] */
  words: [number, number, string][];
  /** Speaker name ("A", "B", ...) when diarization is on. */
  speaker?: string;
}

export interface Cue {
  start: number;
  end: number;
  lines: string[];
  speaker?: string;
}

export interface CueOptions {
  /** Languages written without spaces between words join word texts directly. */
  language: string;
  maxLineChars: number;
  maxLines: number;
  minMs: number;
  maxMs: number;
  /** A pause this long between two words starts a new cue. */
  breakPauseMs: number;
}

/**
 * Characters per line, after Netflix's timed-text style guides (Korean 16, Japanese 16 for
 * horizontal text, Chinese 16, English and other Latin-script languages 42).
 */
export const DEFAULT_LINE_CHARS: Record<string, number> = { ko: 16, ja: 16, zh: 16, en: 42 };

const NO_SPACE = new Set(['ja', 'zh']);

export function cueOptions(language: string, overrides: Partial<Record<string, number>> = {}): CueOptions {
  return {
    language,
    maxLineChars: overrides[language] ?? DEFAULT_LINE_CHARS[language] ?? 42,
    maxLines: 2,
    minMs: 700,
    maxMs: 7000,
    breakPauseMs: 1500,
  };
}

export function buildCues(segments: readonly CueSource[], o: CueOptions): Cue[] {
  const joiner = NO_SPACE.has(o.language) ? '' : ' ';
  const cues: Cue[] = [];
  for (const seg of segments) {
    const words = seg.words.length > 0 ? seg.words : [[seg.start, seg.end, seg.text] as [number, number, string]];
    let cur: { start: number; end: number; text: string } | undefined;
    const close = (): void => {
      if (cur === undefined) return;
      cues.push({ start: cur.start, end: cur.end, lines: wrap(cur.text, o, joiner), speaker: seg.speaker });
      cur = undefined;
    };
    for (const [ws, we, wt] of words) {
      const text = wt.trim();
      if (text === '') continue;
      if (cur !== undefined) {
        const joined = cur.text + joiner + text;
        const tooLong = wrap(joined, o, joiner).length > o.maxLines || lineOverflow(joined, o, joiner);
        if (tooLong || we - cur.start > o.maxMs || ws - cur.end >= o.breakPauseMs) close();
        else {
          cur.text = joined;
          cur.end = Math.max(cur.end, we);
          continue;
        }
      }
      cur = { start: ws, end: Math.max(we, ws), text };
    }
    close();
  }
  return fixDurations(cues, o, joiner);
}

/** True when some line of the wrapped text is longer than allowed although it could be split. */
function lineOverflow(text: string, o: CueOptions, joiner: string): boolean {
  return wrap(text, o, joiner).some((l) => length(l) > o.maxLineChars && canSplit(l, joiner));
}

function canSplit(line: string, joiner: string): boolean {
  return joiner === '' ? length(line) > 1 : line.includes(' ');
}

function length(s: string): number {
  return [...s].length;
}

/**
 * Lines of at most `maxLineChars`, as balanced as possible: "a long line over a short one" reads
 * worse than two of similar length. Breaks at spaces, or between characters where words are not
 * spaced (after punctuation if there is some near the middle).
 */
export function wrap(text: string, o: CueOptions, joiner: string): string[] {
  const chars = [...text];
  if (chars.length <= o.maxLineChars) return [text];
  const breaks: number[] = [];
  if (joiner === '') for (let i = 1; i < chars.length; i++) breaks.push(i);
  else chars.forEach((c, i) => { if (c === ' ') breaks.push(i); });
  if (breaks.length === 0) return [text];
  // Fewest lines first, then the most even: try k lines for k = 2, 3, ...
  for (let k = 2; k <= chars.length; k++) {
    const lines = balancedSplit(chars, breaks, k, o.maxLineChars, joiner === '');
    if (lines !== undefined) return lines;
  }
  return [text];
}

/** Splits into exactly k lines, each within max, minimising the longest line; undefined if impossible. */
function balancedSplit(chars: string[], breaks: number[], k: number, max: number, noSpace: boolean): string[] | undefined {
  const lines: string[] = [];
  let from = 0;
  for (let line = 0; line < k - 1; line++) {
    const restLines = k - line;
    const target = from + (chars.length - from) / restLines;
    let best = -1;
    let bestCost = Infinity;
    for (const b of breaks) {
      if (b <= from) continue;
      const len = b - from;
      if (len > max) break;
      let cost = Math.abs(b - target);
      // In unspaced text, prefer breaking just after punctuation.
      if (noSpace && /[\p{P}]/u.test(chars[b - 1])) cost -= 2;
      if (cost < bestCost) { bestCost = cost; best = b; }
    }
    if (best < 0) return undefined;
    lines.push(chars.slice(from, best).join('').trim());
    from = noSpace ? best : best + 1;
  }
  const last = chars.slice(from).join('').trim();
  if (length(last) > max) return undefined;
  lines.push(last);
  return lines.filter((l) => l !== '');
}

/**
 * Every cue between minMs and maxMs: a short cue first takes free time after it, then before it,
 * then pushes the next cue's start if that one can spare it; failing all, it merges with a
 * neighbour. Cues never overlap.
 */
function fixDurations(cues: Cue[], o: CueOptions, joiner: string): Cue[] {
  for (const c of cues) if (c.end - c.start > o.maxMs) c.end = c.start + o.maxMs;
  for (let i = 0; i < cues.length; i++) {
    const c = cues[i];
    const next = cues[i + 1];
    const prev = cues[i - 1];
    if (c.end - c.start >= o.minMs) continue;
    c.end = Math.min(c.start + o.minMs, next === undefined ? Infinity : next.start);
    if (c.end - c.start < o.minMs) c.start = Math.max(prev === undefined ? 0 : prev.end, c.end - o.minMs);
    if (c.end - c.start < o.minMs && next !== undefined && next.end - (c.start + o.minMs) >= o.minMs) {
      c.end = c.start + o.minMs;
      next.start = c.end;
    }
    if (c.end - c.start >= o.minMs) continue;
    // Merge into the neighbour that stays within maxMs, preferring the next cue.
    const target = next !== undefined && next.end - c.start <= o.maxMs && next.speaker === c.speaker ? next
      : prev !== undefined && c.end - prev.start <= o.maxMs && prev.speaker === c.speaker ? prev : undefined;
    if (target === undefined) continue;
    const merged = target === next ? [...c.lines, ...next.lines].join(joiner) : [...target.lines, ...c.lines].join(joiner);
    target.lines = wrap(merged, o, joiner);
    target.start = Math.min(target.start, c.start);
    target.end = Math.max(target.end, c.end);
    cues.splice(i, 1);
    i = Math.max(-1, i - 2);
  }
  return cues;
}
