import type { Cue } from './cues.js';

/** SubRip: numbered cues, `HH:MM:SS,mmm --> HH:MM:SS,mmm`, a blank line after each. */
export function writeSrt(cues: readonly Cue[]): string {
  return cues
    .map((c, i) => `${i + 1}\n${time(c.start, ',')} --> ${time(c.end, ',')}\n${labelled(c).join('\n')}\n`)
    .join('\n');
}

/** The speaker's name leads the cue's first line ("A: ..."), as SRT has no voice markup. */
function labelled(c: Cue): string[] {
  return c.speaker === undefined ? c.lines : [`${c.speaker}: ${c.lines[0] ?? ''}`, ...c.lines.slice(1)];
}

export function time(ms: number, sep: ',' | '.'): string {
  const t = Math.max(0, Math.round(ms));
  const h = Math.floor(t / 3_600_000);
  const m = Math.floor((t % 3_600_000) / 60_000);
  const s = Math.floor((t % 60_000) / 1000);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(h)}:${pad(m)}:${pad(s)}${sep}${pad(t % 1000, 3)}`;
}
