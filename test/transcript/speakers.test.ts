import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assignSpeakers } from '../../src/transcript/speakers.js';
import type { LongformSegment } from '../../src/transcript/segments.js';

const seg: LongformSegment = {
  start: 0, end: 4000, text: 'yes I agree no wait', confidence: 0.9,
  words: [[0, 400, 'yes'], [500, 700, 'I'], [800, 1300, 'agree'], [2500, 2900, 'no'], [3000, 3600, 'wait']],
};

test('a segment whose words change speaker is split there; one speaker keeps it whole', () => {
  const out = assignSpeakers([seg], [{ start: 0, end: 1400, speaker: '1' }, { start: 2400, end: 4000, speaker: '2' }], 'en');
  // Times follow each speaker's turn around the words (1300 -> 1400, 2500 -> 2400).
  assert.deepEqual(out.map((s) => [s.speaker, s.start, s.end, s.text]), [['1', 0, 1400, 'yes I agree'], ['2', 2400, 4000, 'no wait']]);
  const whole = assignSpeakers([seg], [{ start: 0, end: 4000, speaker: '2' }], 'en');
  assert.equal(whole.length, 1);
  assert.equal(whole[0].text, seg.text);
  assert.equal(whole[0].speaker, '2');
});

test('a lone short word inside another speaker\'s run stays with the run; words outside every turn take the nearest', () => {
  const out = assignSpeakers([seg], [{ start: 0, end: 480, speaker: '1' }, { start: 480, end: 720, speaker: '2' }, { start: 720, end: 1400, speaker: '1' }, { start: 2400, end: 2950, speaker: '2' }], 'en');
  assert.deepEqual(out.map((s) => [s.speaker, s.text]), [['1', 'yes I agree'], ['2', 'no wait']]);
  assert.deepEqual(assignSpeakers([seg], [], 'en').map((s) => s.speaker), ['1']);
});

test('unspaced languages rebuild split texts without spaces', () => {
  const zh: LongformSegment = { start: 0, end: 2000, text: '你好再见', confidence: 1, words: [[0, 500, '你好'], [1200, 2000, '再见']] };
  const out = assignSpeakers([zh], [{ start: 0, end: 800, speaker: '1' }, { start: 1000, end: 2000, speaker: '2' }], 'zh');
  assert.deepEqual(out.map((s) => s.text), ['你好', '再见']);
});

test('segment times cover the speaker\'s turn around the words, and neighbours never overlap or cut into words', () => {
  // Whisper heard "hello there" late and short; the diarizer hears speaker 1 from 200 to 2600 ms.
  const late: LongformSegment = { start: 900, end: 1800, text: 'hello there', confidence: 0.9, words: [[900, 1300, 'hello'], [1400, 1800, 'there']] };
  const next: LongformSegment = { start: 2000, end: 3000, text: 'hi', confidence: 0.9, words: [[2100, 2900, 'hi']] };
  const turns = [{ start: 200, end: 2600, speaker: '1' }, { start: 1900, end: 3200, speaker: '2' }];
  const out = assignSpeakers([late, next], turns, 'en');
  assert.deepEqual(out.map((s) => [s.speaker, s.start, s.end]), [['1', 200, 2100], ['2', 2100, 3200]]);
  for (const s of out) for (const [ws, we] of s.words) assert.ok(s.start <= ws && we <= s.end);
  // A segment no turn of its speaker touches keeps its own times.
  const far = assignSpeakers([late], [{ start: 5000, end: 6000, speaker: '1' }], 'en');
  assert.deepEqual([far[0].start, far[0].end], [900, 1800]);
});

test('a turn of the segment\'s speaker that starts a second after its last word is still its voice', () => {
  // Whisper ended "hello there" at 1800 ms; the diarizer hears speaker 1 on from 2800 to 4000.
  const late: LongformSegment = { start: 900, end: 1800, text: 'hello there', confidence: 0.9, words: [[900, 1300, 'hello'], [1400, 1800, 'there']] };
  const out = assignSpeakers([late], [{ start: 800, end: 1900, speaker: '1' }, { start: 2800, end: 4000, speaker: '1' }], 'en');
  assert.deepEqual(out.map((s) => [s.speaker, s.start, s.end]), [['1', 800, 4000]]);
});
