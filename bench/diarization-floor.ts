/**
 * The best DER an answer of one-speaker segments can reach on each labelled recording: CLOVA's
 * segments carry one speaker each, so where two people talk at once the second is missed
 * whatever the diarizer knows. The "hypothesis" here is the reference itself flattened to one
 * speaker at a time (at each 10 ms, the active speaker whose turn started first: the one a
 * transcript most likely follows), scored as the API's answers are (collar 0.25 s, overlap
 * scored). A file whose floor is above a target cannot reach it without overlapping segments.
 *
 *   node --import tsx bench/diarization-floor.ts
 */
import { readFileSync } from 'node:fs';
import { diarizationErrorRate, flattenToOneSpeaker, parseRttm } from './lib/der.js';
import { half } from './lib/halves.js';
import { labelledRecordings } from './lib/labelled.js';
import { formatTable, pct } from './lib/table.js';
import { helpOnRequest } from './lib/help.js';

helpOnRequest(import.meta.url);

const COLLAR = 0.25;
function main(): void {
  const rows: (string | number)[][] = [];
  const floors: { file: string; meeting: boolean; der: number }[] = [];
  for (const e of labelledRecordings()) {
    const ref = parseRttm(readFileSync(e.rttm, 'utf8'));
    const r = diarizationErrorRate(ref, flattenToOneSpeaker(ref), { collar: COLLAR });
    floors.push({ file: e.file, meeting: e.meeting, der: r.der });
    rows.push([e.file, half(e.file), e.meeting ? 'yes' : '', pct(r.der), pct(r.missed / r.total)]);
  }
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  rows.push(['mean (per file)', '', '', pct(mean(floors.map((f) => f.der))), '']);
  console.log(formatTable(['file', 'half', 'meeting', 'floor DER', 'of it missed'], rows));
  const over = floors.filter((f) => f.meeting && f.der > 0.25);
  console.log(`meetings whose floor is over 25%: ${over.length}/${floors.filter((f) => f.meeting).length}${over.length > 0 ? ` (${over.map((f) => f.file).join(', ')})` : ''}`);
  console.log(`collar ${COLLAR} s each side, overlap scored; the reference flattened to one speaker at a time`);
}

main();
