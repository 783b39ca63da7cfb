import type { Cue } from './cues.js';
import { time } from './srt.js';

/** WebVTT: cue text escaped; the speaker as a voice span (`<v A>`), which players show or style. */
export function writeVtt(cues: readonly Cue[]): string {
  const body = cues.map((c) => {
    const lines = c.lines.map(escapeVtt);
    if (c.speaker !== undefined) lines[0] = `<v ${escapeVtt(c.speaker)}>${lines[0] ?? ''}`;
    return `${time(c.start, '.')} --> ${time(c.end, '.')}\n${lines.join('\n')}\n`;
  });
  return ['WEBVTT\n', ...body].join('\n');
}

function escapeVtt(s: string): string {
  // "-->" may not appear in cue text; & < > are markup.
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
