import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { keptApart, utterances, type ClovaWord, type LongformSegment } from '../../src/transcript/segments.js';

const seg = (start: number, end: number, words: ClovaWord[]): LongformSegment => ({ start, end, text: words.map((w) => w[2]).join(' '), confidence: 1, words });

describe('keptApart', () => {
  it('leaves segments that do not overlap as they are', () => {
    const s = [seg(0, 1000, [[100, 900, 'a']]), seg(1000, 2000, [[1100, 1900, 'b']])];
    assert.deepEqual(keptApart(s), s);
  });

  it('cuts an overlap in its middle when that is between the words', () => {
    const out = keptApart([seg(0, 3000, [[0, 1000, 'a']]), seg(2000, 5000, [[3500, 4500, 'b']])]);
    assert.deepEqual(out.map((s) => [s.start, s.end]), [[0, 2500], [2500, 5000]]);
  });

  it('never cuts inside either segment\'s words', () => {
    // A first-pass segment spanning its VAD utterance to 14 s, its words ending at 9.44 s, and
    // the second look's segment from 9.19 s whose first word starts at 9.5 s.
    const out = keptApart([seg(5154, 14_000, [[5200, 9442, 'a']]), seg(9192, 14_000, [[9500, 13_800, 'b']])]);
    assert.deepEqual(out.map((s) => [s.start, s.end]), [[5154, 9500], [9500, 14_000]]);
    const late = keptApart([seg(0, 3000, [[0, 2900, 'a']]), seg(1000, 5000, [[4000, 4500, 'b']])]);
    assert.deepEqual(late.map((s) => [s.start, s.end]), [[0, 2900], [2900, 5000]]);
  });

  it('does not change its input', () => {
    const s = [seg(0, 3000, [[0, 1000, 'a']]), seg(2000, 5000, [[3500, 4500, 'b']])];
    keptApart(s);
    assert.deepEqual(s.map((x) => [x.start, x.end]), [[0, 3000], [2000, 5000]]);
  });
});

describe('utterances', () => {
  it('joins speech across pauses shorter than the long pause', () => {
    const sr = 16_000;
    const out = utterances([{ start: 0, end: sr }, { start: 1.2 * sr, end: 2 * sr }, { start: 3 * sr, end: 4 * sr }], 0.5);
    assert.deepEqual(out, [{ start: 0, end: 2 * sr }, { start: 3 * sr, end: 4 * sr }]);
  });
});
