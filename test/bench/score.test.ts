import { test } from 'node:test';
import assert from 'node:assert/strict';
import { corpusRates, editDistance, normalise, scoreClip } from '../../bench/lib/score.js';

const chars = (s: string) => Array.from(s);

test('editDistance: classic hand-checked pairs', () => {
  assert.equal(editDistance(chars('kitten'), chars('sitting')), 3);
  assert.equal(editDistance(chars('flaw'), chars('lawn')), 2);
  assert.equal(editDistance(chars(''), chars('abc')), 3);
  assert.equal(editDistance(chars('abc'), chars('')), 3);
  assert.equal(editDistance([], []), 0);
  assert.equal(editDistance(['the', 'cat', 'sat'], ['the', 'cat', 'sat']), 0);
  // one substitution, one deletion
  assert.equal(editDistance(['the', 'cat', 'sat', 'down'], ['a', 'cat', 'sat']), 2);
});

test('editDistance: symmetric, and fine on long inputs', () => {
  const a = chars('가나다라마바사'.repeat(300));
  const b = chars('가나다라마바아'.repeat(300));
  assert.equal(editDistance(a, b), 300);
  assert.equal(editDistance(b, a), 300);
});

test('normalise en: lower-cased words; punctuation and symbols become spaces', () => {
  // The apostrophe (Po) splits "Don't" into two words, as in reference.py.
  assert.deepEqual(normalise('en', "Don't stop—it's 5°C!"), ['don', 't', 'stop', 'it', 's', '5', 'c']);
  assert.deepEqual(normalise('en', 'a well-known  fact.'), ['a', 'well', 'known', 'fact']);
  assert.deepEqual(normalise('en', '  HE HOPED '), ['he', 'hoped']);
  assert.deepEqual(normalise('en', '$100 + 20%'), ['100', '20']);
  assert.deepEqual(normalise('en', ''), []);
  assert.deepEqual(normalise('en', null), []);
});

test('normalise: NFKC folds full-width forms and ligatures first', () => {
  assert.deepEqual(normalise('en', 'ＡＢＣ　１２３'), ['abc', '123']);
  assert.deepEqual(normalise('ja', 'ＡＢＣ　１２３'), ['A', 'B', 'C', '1', '2', '3']);
  assert.deepEqual(normalise('en', 'ﬁne'), ['fine']);
  // U+2460 CIRCLED DIGIT ONE is NFKC "1", so it is kept as a digit, not dropped as a symbol
  assert.deepEqual(normalise('ko', '①번'), ['1', '번']);
  // Decomposed Hangul jamo compose to one syllable
  assert.deepEqual(normalise('ko', '\u1100\u1161'), ['가']);
});

test('normalise ko/ja/zh: characters, all whitespace and punctuation gone', () => {
  assert.deepEqual(normalise('ko', '안녕하세요, 여러분!'), chars('안녕하세요여러분'));
  assert.deepEqual(normalise('ja', '「こんにちは」。世界'), chars('こんにちは世界'));
  assert.deepEqual(normalise('zh', '你好，世界！\u3000再见'), chars('你好世界再见'));
  // One token per code point, not per UTF-16 unit
  assert.deepEqual(normalise('zh', '𠮷野'), ['𠮷', '野']);
  // Python whitespace (U+001C..U+001F, U+0085) goes; U+FEFF is not whitespace there
  assert.deepEqual(normalise('ko', 'a\u001cb\u0085c\ufeffd'), ['a', 'b', 'c', '\ufeff', 'd']);
});

test('scoreClip: plain clip', () => {
  const s = scoreClip({ lang: 'en', reference: 'ten of clubs' }, ' Ten of clubs.');
  assert.deepEqual([s.errors, s.length, s.rate, s.metric, s.chosen], [0, 3, 0, 'wer', 'reference']);
  const k = scoreClip({ lang: 'ko', reference: '남자가 여자를 민다' }, '남자가 여자를 민다.');
  assert.deepEqual([k.errors, k.length, k.metric], [0, 8, 'cer']);
});

test('scoreClip zh: a Traditional hypothesis is converted to Simplified', () => {
  const s = scoreClip({ lang: 'zh', reference: '汉语头发后来' }, '漢語頭髮後來');
  assert.equal(s.errors, 0);
  assert.equal(s.length, 6);
  // ...but only for zh: Japanese kanji stay as they are
  assert.equal(scoreClip({ lang: 'ja', reference: '汉语' }, '漢語').errors, 2);
});

test('scoreClip ko: the spelled-out reference wins when the hypothesis spells numbers', () => {
  const s = scoreClip({ lang: 'ko', reference: '3시에 만나요', referenceSpelled: '세 시에 만나요' }, '세시에 만나요.');
  assert.equal(s.chosen, 'reference_spelled');
  assert.deepEqual([s.errors, s.length], [0, 6]);
  assert.deepEqual(
    s.candidates.map((c) => [c.which, c.errors, c.length]),
    [['reference', 1, 6], ['reference_spelled', 0, 6]],
  );
  const n = scoreClip({ lang: 'ko', reference: '3시에 만나요', referenceSpelled: '세 시에 만나요' }, '3시에 만나요');
  assert.equal(n.chosen, 'reference');
  assert.deepEqual([n.errors, n.length], [0, 6]);
});

test('scoreClip ko: better of two is by error RATE, not error count', () => {
  // vs reference: 3 substitutions over 4 = 0.75; vs spelled: 4 deletions over 8 = 0.5.
  // The spelled form wins although it has more errors, and its (4, 8) is what counts.
  const s = scoreClip({ lang: 'ko', reference: '가나다라', referenceSpelled: '가마바사아자차카' }, '가마바사');
  assert.equal(s.chosen, 'reference_spelled');
  assert.deepEqual([s.errors, s.length, s.rate], [4, 8, 0.5]);
  const [ko] = corpusRates([{ lang: 'ko', score: s }]);
  assert.deepEqual([ko.errors, ko.length, ko.rate], [4, 8, 0.5]);
});

test('scoreClip ko: a tie keeps `reference`; an empty spelled form is ignored', () => {
  const tie = scoreClip({ lang: 'ko', reference: '가나', referenceSpelled: '다라' }, '가라');
  assert.equal(tie.chosen, 'reference');
  assert.equal(tie.rate, 0.5);
  const empty = scoreClip({ lang: 'ko', reference: '가나', referenceSpelled: '' }, '가나');
  assert.equal(empty.candidates.length, 1);
});

test('corpusRates: sum of errors over sum of lengths, not a mean of clip rates', () => {
  const a = scoreClip({ lang: 'ko', reference: '가나다라마바사아자차' }, '가나다라마바사아자카'); // 1/10
  const b = scoreClip({ lang: 'ko', reference: '가나다라마' }, '가나다라마'); // 0/5
  const c = scoreClip({ lang: 'en', reference: 'one two' }, 'one'); // 1/2
  const rates = corpusRates([
    { lang: 'ko', score: a },
    { lang: 'ko', score: b },
    { lang: 'en', score: c },
  ]);
  assert.deepEqual(
    rates.map((r) => [r.lang, r.metric, r.clips, r.errors, r.length]),
    [['en', 'wer', 1, 1, 2], ['ko', 'cer', 2, 1, 15]],
  );
  assert.equal(rates[1].rate, 1 / 15);
});
