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
  assert.deepEqual(out.map((s) => [s.speaker, s.start, s.end, s.text]), [['1', 0, 1300, 'yes I agree'], ['2', 2500, 4000, 'no wait']]);
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
