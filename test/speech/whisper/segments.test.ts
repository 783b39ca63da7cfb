import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AlignedWord } from '../../../src/speech/whisper/alignment.js';
import {
  alignmentTokens, splitAtTimestamps, transcriptOf, windowSegments, wordsBySegment, type WindowSegment,
} from '../../../src/speech/whisper/segments.js';

/** Timestamp tokens start here (<|0.00|>); text tokens below, end-of-text just below that. */
const TS = 1000;
const EOT = 999;
const ts = (seconds: number) => TS + Math.round(seconds / 0.02);
const FULL = 3000; // frames of a full 30 s window

test('splitAtTimestamps: a segment ends at each timestamp pair; the seek moves to the last pair', () => {
  // <|0.00|> a b <|1.00|><|1.00|> c <|2.50|><|2.50|> d   (the last segment is unfinished)
  const tokens = [ts(0), 1, 2, ts(1), ts(1), 3, ts(2.5), ts(2.5), 4];
  const logprobs = tokens.map((_, i) => -i / 10);
  const { segments, seekFrames } = splitAtTimestamps(tokens, logprobs, TS, 30, FULL);
  assert.deepEqual(segments.map((s) => [s.start, s.end, s.tokens]), [
    [30, 31, [ts(0), 1, 2, ts(1)]],
    [31, 32.5, [ts(1), 3, ts(2.5)]],
  ]);
  assert.deepEqual(segments[1].logprobs, logprobs.slice(4, 7));
  // 2.5 s at 2 frames per 20 ms step: the unfinished "d" is decoded again in the next window.
  assert.equal(seekFrames, 250);
});

test('splitAtTimestamps: a single timestamp at the end closes the last segment and the seek skips the window', () => {
  const tokens = [ts(0), 1, ts(1), ts(1), 2, ts(3)];
  const { segments, seekFrames } = splitAtTimestamps(tokens, tokens.map(() => -0.1), TS, 0, 1200);
  assert.deepEqual(segments.map((s) => [s.start, s.end, s.tokens]), [
    [0, 1, [ts(0), 1, ts(1)]],
    [1, 3, [ts(1), 2, ts(3)]],
  ]);
  assert.equal(seekFrames, 1200);
});

test('splitAtTimestamps: no pair is one segment up to the last timestamp, or over the whole window', () => {
  const upTo = splitAtTimestamps([ts(0), 1, 2, ts(4.2)], [0, 0, 0, 0], TS, 60, 2000);
  assert.equal(upTo.segments.length, 1);
  assert.equal(upTo.segments[0].start, 60);
  assert.ok(Math.abs(upTo.segments[0].end - 64.2) < 1e-9);
  assert.equal(upTo.seekFrames, 2000);
  // Text only (no timestamps at all), or only <|0.00|>: the window's audio, 100 frames a second.
  for (const tokens of [[1, 2, EOT], [ts(0), 1, 2]]) {
    const whole = splitAtTimestamps(tokens, tokens.map(() => -1), TS, 0, 550);
    assert.deepEqual(whole.segments, [{ start: 0, end: 5.5, tokens, logprobs: tokens.map(() => -1) }]);
    assert.equal(whole.seekFrames, 550);
  }
});

test('alignmentTokens: text tokens per segment and the probability of each, timestamps and end-of-text left out', () => {
  const segments: WindowSegment[] = [
    { start: 0, end: 1, tokens: [ts(0), 5, 6, ts(1)], logprobs: [0, Math.log(0.5), Math.log(0.25), 0] },
    { start: 1, end: 2, tokens: [ts(1), 7, EOT], logprobs: [0, Math.log(0.8)] },
  ];
  const { perSegment, probabilities } = alignmentTokens(segments, EOT);
  assert.deepEqual(perSegment, [[5, 6], [7]]);
  assert.deepEqual(probabilities.map((p) => Math.round(p * 100) / 100), [0.5, 0.25, 0.8]);
});

test('wordsBySegment: each word goes to the segment of its first token; times offset and rounded; blanks dropped', () => {
  const word = (text: string, start: number, end: number, firstToken: number): AlignedWord =>
    ({ text, start, end, probability: 0.123456, firstToken });
  const words = wordsBySegment([
    word(' Hello', 0.1, 0.5, 0), word(' world', 0.5, 0.91234, 1), word(' ', 1, 1, 2), word(' again', 1.2, 1.6, 3),
  ], [3, 2], 30);
  assert.deepEqual(words, [
    { seg: 0, word: { text: ' Hello', start: 30.1, end: 30.5, probability: 0.1235 } },
    { seg: 0, word: { text: ' world', start: 30.5, end: 30.912, probability: 0.1235 } },
    { seg: 1, word: { text: ' again', start: 31.2, end: 31.6, probability: 0.1235 } },
  ]);
});

test('windowSegments and transcriptOf: trimmed text, blank segments dropped, ends inside the audio, words only when asked', () => {
  const texts = new Map([[1, ' Hello there. '], [2, '   '], [3, ' Bye.']]);
  const segments: WindowSegment[] = [
    { start: 0.0004, end: 1.2346, tokens: [1], logprobs: [] },
    { start: 1.5, end: 2, tokens: [2], logprobs: [] },
    { start: 2, end: 4, tokens: [3], logprobs: [] },
  ];
  const decode = (tokens: number[]) => texts.get(tokens[0]) ?? '';
  const window = { avgLogprob: -0.25, noSpeechProb: 0.01 };
  const words = [
    { seg: 0, word: { text: ' Hello', start: 0, end: 0.5, probability: 0.9 } },
    { seg: 2, word: { text: ' Bye.', start: 2, end: 3, probability: 0.8 } },
  ];
  const timed = windowSegments(segments, decode, window, 3.5, words);
  assert.deepEqual(timed, [
    { start: 0, end: 1.235, text: 'Hello there.', avgLogProb: -0.25, noSpeechProb: 0.01, words: [words[0].word] },
    { start: 2, end: 3.5, text: 'Bye.', avgLogProb: -0.25, noSpeechProb: 0.01, words: [words[1].word] },
  ]);
  const plain = windowSegments(segments, decode, window, 3.5, undefined);
  assert.ok(plain.every((s) => !('words' in s) && !('tokens' in s)));
  // With how the window was decoded: each segment's tokens and the window's details.
  const detailed = windowSegments(segments, decode, { ...window, decode: { seek: 3000, temperature: 0.2, compressionRatio: 1.234567 } }, 3.5, undefined);
  assert.deepEqual(detailed.map((s) => [s.tokens, s.seek, s.temperature, s.compressionRatio]), [[[1], 3000, 0.2, 1.2346], [[3], 3000, 0.2, 1.2346]]);
  assert.deepEqual(transcriptOf(timed, 'en', 3.5), { text: 'Hello there. Bye.', language: 'en', segments: timed, durationS: 3.5 });
  assert.deepEqual(transcriptOf([], 'ko', 1), { text: '', language: 'ko', segments: [], durationS: 1 });
});
