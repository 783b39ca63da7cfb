/** CLOVA's subtitle formats (SRT, SMI, VTT) written from segments with word timings. */
import { buildCues, cueOptions, type CueSource } from './cues.js';
import { writeSrt } from './srt.js';
import { writeVtt } from './vtt.js';
import { writeSmi } from './smi.js';

export const SUBTITLE_FORMATS = ['SRT', 'SMI', 'VTT'] as const;
export type SubtitleFormat = (typeof SUBTITLE_FORMATS)[number];

export function isSubtitleFormat(format: string | undefined): format is SubtitleFormat {
  return (SUBTITLE_FORMATS as readonly (string | undefined)[]).includes(format);
}

export const SUBTITLE_CONTENT_TYPES: Record<SubtitleFormat, string> = {
  SRT: 'application/x-subrip; charset=utf-8',
  VTT: 'text/vtt; charset=utf-8',
  SMI: 'application/smil; charset=utf-8',
};

/** One subtitle file of the segments, in the format asked for. */
export function writeSubtitles(
  format: SubtitleFormat, segments: readonly CueSource[], language: string, lineChars: Partial<Record<string, number>> = {},
): string {
  const cues = buildCues(segments, cueOptions(language, lineChars));
  if (format === 'SRT') return writeSrt(cues);
  if (format === 'VTT') return writeVtt(cues);
  return writeSmi(cues, language);
}
