import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_UNCOVERED, uncoveredSpans } from '../../src/transcript/coverage.js';
import type { LongformSegment } from '../../src/transcript/segments.js';

const seg = (start: number, end: number): LongformSegment => ({ start, end, text: 'x', confidence: 1, words: [] });
const turn = (start: number, end: number, speaker = '1') => ({ start, end, speaker });
const opts = { ...DEFAULT_UNCOVERED, mediaMs: 60_000 };
const worded = (start: number, end: number, wordsEnd: number): LongformSegment => ({ ...seg(start, end), words: [[start, wordsEnd, 'x']] });

describe('uncoveredSpans', () => {
  it('returns turns the segments leave uncovered, padded; covered and too-short turns are left alone', () => {
    const spans = uncoveredSpans([seg(1000, 5000)], [turn(1200, 4800), turn(10_000, 10_800), turn(20_000, 20_200)], opts);
    assert.deepEqual(spans, [{ start: 9750, end: 11_050 }]);
  });

  it('a turn half covered or more is covered', () => {
    assert.deepEqual(uncoveredSpans([seg(0, 600)], [turn(0, 1000)], opts), []);
    assert.equal(uncoveredSpans([seg(0, 400)], [turn(0, 1000)], opts).length, 1);
  });

  it('a long stretch without words inside covered speech is looked at; a short one is not', () => {
    // VAD heard 5.2-14.0 s; the words stop at 9.8 s (a search that ended before the last sentence).
    assert.deepEqual(uncoveredSpans([worded(5200, 14_000, 9800)], [turn(5200, 14_000)], opts), [{ start: 9550, end: 14_000 + 250 }]);
    // Words at both ends, 2 s without any between them.
    assert.deepEqual(uncoveredSpans([worded(0, 3000, 3000), worded(5000, 9000, 9000)], [turn(0, 9000)], opts), [{ start: 2750, end: 5250 }]);
    // Edges a word's loose timing leaves are not.
    assert.deepEqual(uncoveredSpans([worded(1000, 9000, 8000)], [turn(0, 9000)], opts), []);
  });

  it('joins close spans, clips to the media and cuts long ones', () => {
    assert.deepEqual(uncoveredSpans([], [turn(100, 900), turn(1300, 2000, '2')], opts), [{ start: 0, end: 2250 }]);
    assert.deepEqual(uncoveredSpans([], [turn(59_500, 60_000)], opts), [{ start: 59_250, end: 60_000 }]);
    const long = uncoveredSpans([], [turn(1000, 41_000)], { ...opts, maxShare: 1 });
    assert.deepEqual(long, [{ start: 750, end: 30_750 }, { start: 30_750, end: 41_250 }]);
  });

  it('looks again at no more than maxShare of the media, the longest turns first, in time order', () => {
    const spans = uncoveredSpans([], [turn(1000, 1500), turn(10_000, 14_000), turn(30_000, 31_000)], { ...opts, maxShare: 0.1, minBudgetMs: 0 });
    assert.deepEqual(spans, [{ start: 9750, end: 14_250 }, { start: 29_750, end: 31_250 }]);
  });

  it('looks again at up to minBudgetMs on short media, where the share would not fit one turn', () => {
    const short = { ...opts, mediaMs: 14_000 };
    assert.deepEqual(uncoveredSpans([], [turn(9300, 14_000)], { ...short, minBudgetMs: 0 }), []);
    assert.deepEqual(uncoveredSpans([], [turn(9300, 14_000)], short), [{ start: 9050, end: 14_000 }]);
  });

  it('counts what the words cover, not the segment Whisper stretched past them', () => {
    // The two-speaker mix: words stop at 9.8 s, the segment runs to the window's end.
    // Only the part of the turn that no word covers is looked at (with its padding).
    const spans = uncoveredSpans([worded(4900, 14_000, 9800)], [turn(5000, 9800, '2'), turn(9300, 14_000)], { ...opts, mediaMs: 14_000 });
    assert.deepEqual(spans, [{ start: 9550, end: 14_000 }]);
  });

  it('a turn and a VAD utterance over the same speech make one span of what no word covers', () => {
    // The same mix: VAD's utterance 5.15-14.0 s is less than half covered; decoding it whole
    // repeats the first pass, which stopped at 9.8 s again.
    const spans = uncoveredSpans([worded(5154, 14_000, 9400)], [turn(9290, 14_000), { start: 5154, end: 14_000 }], { ...opts, mediaMs: 14_000 });
    assert.deepEqual(spans, [{ start: 9150, end: 14_000 }]);
  });
});
