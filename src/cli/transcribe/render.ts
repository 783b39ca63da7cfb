/** A finished result (CLOVA's long-form body) as the text of one output format. */
import type { CompletedResult } from '../../clova/longform-result.js';
import type { OutputFormat } from './args.js';

export function renderResult(result: CompletedResult, format: OutputFormat): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify(result, null, 2)}\n`;
    case 'txt':
      return plainText(result);
    case 'srt':
    case 'vtt':
    case 'smi':
      // Written by the pipeline (transcript/subtitles/) because the params asked for the format.
      if (result.subtitle === undefined) throw new Error(`the result has no ${format.toUpperCase()} subtitle`);
      return result.subtitle.endsWith('\n') ? result.subtitle : `${result.subtitle}\n`;
  }
}

/** One line per segment; with speakers, each line starts with the speaker's name ("A: ..."). */
function plainText(result: CompletedResult): string {
  const withSpeakers = result.speakers.length > 0;
  return result.segments
    .filter((s) => s.text.trim() !== '')
    .map((s) => `${withSpeakers && s.speaker !== undefined ? `${s.speaker.name}: ` : ''}${s.text.trim()}\n`)
    .join('');
}
