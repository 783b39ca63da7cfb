import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diarizationErrorRate, flattenToOneSpeaker, parseRttm, toRttm, type SpeakerSegment } from '../../bench/lib/der.js';

const seg = (start: number, end: number, speaker: string): SpeakerSegment => ({ start, end, speaker });
const near = (a: number, b: number, msg?: string): void => assert.ok(Math.abs(a - b) < 1e-9, `${msg ?? ''} ${a} != ${b}`);

test('a perfect hypothesis with other labels scores 0', () => {
  const ref = [seg(0, 5, 'A'), seg(5, 9, 'B'), seg(9, 12, 'A')];
  const hyp = [seg(0, 5, '2'), seg(5, 9, '1'), seg(9, 12, '2')];
  const r = diarizationErrorRate(ref, hyp, { collar: 0 });
  near(r.der, 0);
  near(r.total, 12);
  assert.deepEqual([...r.mapping], [['A', '2'], ['B', '1']]);
});

test('missed, false alarm and confusion are counted apart', () => {
  const ref = [seg(0, 10, 'A'), seg(10, 20, 'B')];
  // A: 0-8 right, 8-10 missed; B: 10-15 labelled as A (confusion), 15-20 right; 20-22 false alarm.
  const hyp = [seg(0, 8, 'x'), seg(10, 15, 'x'), seg(15, 22, 'y')];
  const r = diarizationErrorRate(ref, hyp, { collar: 0 });
  near(r.total, 20);
  near(r.missed, 2);
  near(r.falseAlarm, 2);
  near(r.confusion, 5);
  near(r.der, 9 / 20);
});

test('overlapped speech counts once per speaker', () => {
  const ref = [seg(0, 10, 'A'), seg(5, 10, 'B')];
  // Only A found: the 5 s of B under A are missed, and total speech is 15 s.
  const r = diarizationErrorRate(ref, [seg(0, 10, 'h')], { collar: 0 });
  near(r.total, 15);
  near(r.missed, 5);
  near(r.der, 5 / 15);
  // Both found: no error.
  near(diarizationErrorRate(ref, [seg(0, 10, 'h'), seg(5, 10, 'k')], { collar: 0 }).der, 0);
});

test('the collar removes that much on each side of every reference boundary', () => {
  const ref = [seg(0, 10, 'A')];
  // Hypothesis starts 0.2 s late and ends 0.2 s early: inside the collar, no error.
  near(diarizationErrorRate(ref, [seg(0.2, 9.8, 'h')], { collar: 0.25 }).der, 0);
  // Scored region is 0.25..9.75; 0.5 s late start leaves 0.25 s missed out of 9.5.
  const r = diarizationErrorRate(ref, [seg(0.5, 10, 'h')], { collar: 0.25 });
  near(r.total, 9.5);
  near(r.missed, 0.25);
  // Hypothesis speech away from any reference boundary is a false alarm.
  const fa = diarizationErrorRate(ref, [seg(0, 10, 'h'), seg(20, 21, 'h')], { collar: 0.25 });
  near(fa.falseAlarm, 1);
});

test('the mapping is optimal, not greedy', () => {
  // Greedy by largest overlap would map A->x (6 s) and leave B->y with 0 s;
  // the optimum maps A->y (5 s) and B->x (5 s) for 10 s matched.
  const ref = [seg(0, 6, 'A'), seg(6, 11, 'A'), seg(11, 16, 'B')];
  const hyp = [seg(0, 6, 'x'), seg(6, 11, 'y'), seg(11, 16, 'x')];
  const r = diarizationErrorRate(ref, hyp, { collar: 0 });
  near(r.confusion, 6);
  assert.equal(r.mapping.get('A'), 'y');
  assert.equal(r.mapping.get('B'), 'x');
});

test('more hypothesis speakers than reference ones: the extra ones are confusion', () => {
  const ref = [seg(0, 10, 'A')];
  const r = diarizationErrorRate(ref, [seg(0, 7, 'x'), seg(7, 10, 'y')], { collar: 0 });
  near(r.confusion, 3);
  near(r.der, 0.3);
});

test('a speaker overlapping itself speaks once; empty inputs', () => {
  const r = diarizationErrorRate([seg(0, 4, 'A'), seg(2, 6, 'A')], [seg(0, 6, 'h')], { collar: 0 });
  near(r.total, 6);
  near(r.der, 0);
  near(diarizationErrorRate([], [], { collar: 0.25 }).der, 0);
  assert.equal(diarizationErrorRate([], [seg(0, 1, 'h')], { collar: 0 }).der, Infinity);
  near(diarizationErrorRate([seg(0, 2, 'A')], [], { collar: 0 }).der, 1);
});

test('RTTM round trip', () => {
  const text = [
    ';; comment',
    'SPEAKER f1 1 4.304 2.448 <NA> <NA> MEE012 <NA> <NA>',
    'SPEAKER f1 1 7.024 4.752 <NA> <NA> MEE009 <NA> <NA>',
    'SPEAKER other 1 1.000 1.000 <NA> <NA> X <NA> <NA>',
    '',
  ].join('\n');
  const segs = parseRttm(text, 'f1');
  assert.equal(segs.length, 2);
  near(segs[0].start, 4.304);
  near(segs[0].end, 6.752);
  assert.equal(segs[1].speaker, 'MEE009');
  assert.equal(parseRttm(text).length, 3);
  const again = parseRttm(toRttm(segs, 'f1'));
  assert.deepEqual(again.map((s) => s.speaker), ['MEE012', 'MEE009']);
  near(again[1].end, 11.776);
  assert.throws(() => parseRttm('SPEAKER f 1 x 1 <NA> <NA> A'), /bad start/);
});

test('flattenToOneSpeaker keeps one speaker at a time, the one whose turn started first', () => {
  const flat = flattenToOneSpeaker([
    { start: 0, end: 2, speaker: 'A' },
    { start: 1, end: 3, speaker: 'B' },
    { start: 4, end: 5, speaker: 'A' },
  ]);
  const rounded = flat.map((s) => ({ start: Math.round(s.start * 100) / 100, end: Math.round(s.end * 100) / 100, speaker: s.speaker }));
  assert.deepEqual(rounded, [
    { start: 0, end: 2, speaker: 'A' },
    { start: 2, end: 3, speaker: 'B' },
    { start: 4, end: 5, speaker: 'A' },
  ]);
  // Without overlap the reference scores 0 against itself flattened; with it, B's overlapped second is missed.
  const ref = [{ start: 0, end: 2, speaker: 'A' }, { start: 1, end: 3, speaker: 'B' }];
  const r = diarizationErrorRate(ref, flattenToOneSpeaker(ref), { collar: 0 });
  assert.ok(Math.abs(r.missed - 1) < 0.02 && r.confusion < 0.02 && r.falseAlarm < 0.02, JSON.stringify(r));
});
