import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EndPointer, type WindowVerdict } from '../../src/stream/end-pointing.js';
import { DEFAULT_EPD, type EpdSettings } from '../../src/clova/stream-config.js';

const W = 512; // samples per window: 32 ms

type Fed = WindowVerdict & { pauseMs: number | undefined };

/**
 * Feeds windows of these probabilities after `at` stream samples; the utterance is everything
 * fed. Each verdict comes with the pause's length after its window.
 */
function feed(ep: EndPointer, probabilities: number[], opts: { at?: number; endsSentence?: () => boolean } = {}): Fed[] {
  let end = opts.at ?? 0;
  return probabilities.map((p) => {
    end += W;
    const verdict = ep.window(p, end, W, end - (opts.at ?? 0), opts.endsSentence ?? (() => false));
    return { ...verdict, pauseMs: ep.pauseMs };
  });
}

/** Windows where a pause began: its first silent window (one window, 32 ms, of pause). */
const pauseStarts = (vs: Fed[]): number[] => vs.flatMap((v, i) => (v.pauseMs === 32 ? [i] : []));

const epd = (o: Partial<EpdSettings>): EpdSettings => ({ ...DEFAULT_EPD, ...o });
const repeat = (p: number, n: number): number[] => Array.from({ length: n }, () => p);
const endPoints = (vs: WindowVerdict[]) => vs.flatMap((v, i) => (v.endPoint === undefined ? [] : [[i, v.endPoint]]));

test('gap: a pause of gapThreshold after speech ends the utterance; the pause starts once, at its first window', () => {
  const ep = new EndPointer(epd({ gapThresholdMs: 300 }));
  // 300 ms is 9.4 windows: the 10th silent window ends the utterance.
  const vs = feed(ep, [...repeat(0.9, 5), ...repeat(0.1, 12)]);
  assert.deepEqual(endPoints(vs), [[14, 'gap']]);
  assert.deepEqual(pauseStarts(vs), [5]);
  assert.deepEqual(vs.slice(5, 8).map((v) => v.pauseMs), [32, 64, 96]);
  // The gap ends the pause: it is over, not still growing.
  assert.equal(vs[14].pauseMs, undefined);
  assert.ok(vs.slice(0, 5).every((v) => v.speaking && v.voiced));
  assert.ok(vs.slice(5).every((v) => !v.speaking && !v.voiced));
  assert.ok(ep.hasSpeech);
  // After the gap, silence is no pause: nothing happens until speech again.
  assert.deepEqual(endPoints(feed(ep, repeat(0.1, 40), { at: 17 * W })), []);
});

test('silence with no speech before it never ends anything', () => {
  const ep = new EndPointer(epd({ gapThresholdMs: 100, durationThresholdMs: 500 }));
  const vs = feed(ep, repeat(0.2, 100));
  assert.deepEqual(endPoints(vs), []);
  assert.ok(vs.every((v) => v.pauseMs === undefined));
  assert.ok(!ep.hasSpeech);
  assert.equal(ep.unvoice(), undefined);
  assert.equal(ep.streamEnd(), undefined);
});

test('hysteresis: between SPEECH_OFF and SPEECH_ON the state stays; a voiced window ends the pause', () => {
  const ep = new EndPointer(epd({ gapThresholdMs: 300 }));
  // Speech, then 8 silent windows (256 ms), one fading window (0.4: voiced, not speech), 8 more.
  const vs = feed(ep, [...repeat(0.9, 3), ...repeat(0.1, 8), 0.4, ...repeat(0.1, 8)]);
  assert.deepEqual(endPoints(vs), []);
  assert.deepEqual(pauseStarts(vs), [3, 12]);
  assert.equal(vs[11].pauseMs, undefined);
  assert.ok(vs[11].voiced && !vs[11].speaking);
  // A fading window before any silence is still speech (no pause starts).
  const fading = feed(new EndPointer(epd({ gapThresholdMs: 300 })), [0.9, 0.4, 0.4, 0.4]);
  assert.ok(fading.every((v) => v.pauseMs === undefined && v.voiced));
});

test('period: with usePeriodEpd a pause of 200 ms ends the utterance once its text ends a sentence', () => {
  let asked = 0;
  let sentence = false;
  const endsSentence = () => {
    asked++;
    return sentence;
  };
  const ep = new EndPointer(epd({ gapThresholdMs: 3000, usePeriodEpd: true }));
  // Not asked before the pause is 200 ms long (7 windows = 224 ms), not an end while the text goes on.
  const vs = feed(ep, [...repeat(0.9, 3), ...repeat(0.1, 10)], { endsSentence });
  assert.deepEqual(endPoints(vs), []);
  assert.equal(asked, 4);
  sentence = true;
  assert.deepEqual(endPoints(feed(ep, [0.1], { at: 13 * W, endsSentence })), [[0, 'period']]);
  // Without usePeriodEpd the text is never looked at.
  const off = new EndPointer(epd({ gapThresholdMs: 3000 }));
  asked = 0;
  assert.deepEqual(endPoints(feed(off, [...repeat(0.9, 3), ...repeat(0.1, 20)], { endsSentence })), []);
  assert.equal(asked, 0);
});

test('period: a gapThreshold under 200 ms is the shorter pause; gap wins when both hold', () => {
  const ep = new EndPointer(epd({ gapThresholdMs: 100, usePeriodEpd: true }));
  assert.deepEqual(endPoints(feed(ep, [...repeat(0.9, 3), ...repeat(0.1, 5)], { endsSentence: () => true })), [[6, 'gap']]);
});

test('durationThreshold: an utterance with speech ends once it is that long, pre-roll included', () => {
  const ep = new EndPointer(epd({ durationThresholdMs: 1000 }));
  // 1000 ms = 31.25 windows: the 32nd window of the utterance ends it.
  const vs = feed(ep, [...repeat(0.1, 10), ...repeat(0.9, 22)]);
  assert.deepEqual(endPoints(vs), [[31, 'durationThreshold']]);
  // Long silence alone is not an utterance.
  assert.deepEqual(endPoints(feed(new EndPointer(epd({ durationThresholdMs: 1000 })), repeat(0.1, 40))), []);
});

test('syllableThreshold: once per utterance, when the partial text has said enough; reset re-arms it', () => {
  const ep = new EndPointer(epd({ syllableThreshold: 5 }));
  assert.equal(ep.partialText('hello'), undefined);
  assert.equal(ep.partialText('hello there you'), 'syllableThreshold');
  assert.equal(ep.partialText('hello there you all'), undefined);
  ep.reset();
  assert.equal(ep.partialText('안녕하세요'), 'syllableThreshold');
  assert.equal(new EndPointer(epd({ syllableThreshold: 0 })).partialText('a very long text with many syllables'), undefined);
});

test('unvoice and the stream end close an utterance with speech; reset starts the next from nothing', () => {
  const ep = new EndPointer(epd({ gapThresholdMs: 300 }));
  feed(ep, [0.1, 0.9, 0.1]);
  assert.equal(ep.unvoice(), 'unvoice');
  assert.equal(ep.streamEnd(), 'endPoint');
  ep.reset();
  assert.ok(!ep.hasSpeech);
  // No pause carried over: silence after a reset is not a pause.
  assert.deepEqual(feed(ep, repeat(0.1, 20), { at: 3 * W }).filter((v) => v.pauseMs !== undefined || v.endPoint), []);
});

test('configure: new settings apply to the open utterance', () => {
  const ep = new EndPointer(epd({ gapThresholdMs: 5000 }));
  assert.deepEqual(endPoints(feed(ep, [...repeat(0.9, 3), ...repeat(0.1, 5)])), []);
  ep.configure(epd({ gapThresholdMs: 200 }));
  // The pause began 5 windows ago (160 ms): 2 more windows make 224 ms.
  assert.deepEqual(endPoints(feed(ep, repeat(0.1, 3), { at: 8 * W })), [[1, 'gap']]);
});
