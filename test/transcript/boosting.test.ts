import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  applyEdits, correctSegment, correctTimedSegment, correctTranscript, keywordCorrector, symbolsOf,
} from '../../src/transcript/boosting.js';

test('Hangul is compared in jamo: leading and trailing consonants alike, the silent ㅇ left out', () => {
  assert.deepEqual(symbolsOf('한'), ['ㅎ', 'ㅏ', 'ㄴ']);
  assert.deepEqual(symbolsOf('아'), ['ㅏ']);
  assert.deepEqual(symbolsOf('A'), ['a']);
});

test('Korean: a near miss becomes the keyword, its particle stays', () => {
  const c = keywordCorrector(['하나님', '서울역'], 'ko');
  assert.ok(c);
  assert.equal(c.apply('하나임이 말씀하셨다'), '하나님이 말씀하셨다');
  assert.equal(c.apply('한아님이 보우하사'), '하나님이 보우하사', 're-syllabified output lines up in jamo');
  assert.equal(c.apply('서울 역에서 만나'), '서울역에서 만나', 'spacing-insensitive');
  assert.equal(c.apply('하나님이 좋다'), '하나님이 좋다');
});

test('Korean: words that are not close enough are left alone', () => {
  const c = keywordCorrector(['하나님', '정부', '차마'], 'ko');
  assert.ok(c);
  assert.equal(c.apply('정부와 하나 그리고 남아'), '정부와 하나 그리고 남아', 'a four-jamo keyword is only matched exactly');
  assert.equal(c.apply('사과를 먹었다'), '사과를 먹었다');
  // A match starts at a word start: the end of a longer word is not a keyword.
  assert.equal(keywordCorrector(['나님'], 'ko')?.apply('하나님'), '하나님');
});

test('English: whole words, case-insensitive, spacing-insensitive', () => {
  const c = keywordCorrector(['Kubernetes', 'New York', 'Sori'], 'en');
  assert.ok(c);
  assert.equal(c.apply('deploy on kubernetis now'), 'deploy on Kubernetes now');
  assert.equal(c.apply('newyork is big'), 'New York is big');
  assert.equal(c.apply('sorry about that'), 'sorry about that', 'a four-letter keyword allows no edit');
  assert.equal(c.apply('Sorin came'), 'Sorin came', 'must end at a word end');
  assert.equal(c.apply('Kubernetes.'), 'Kubernetes.');
  assert.equal(keywordCorrector(['seven'], 'en')?.apply("I don't even know"), "I don't even know", 'joining words needs an exact match');
  assert.equal(keywordCorrector(['hearts'], 'en')?.apply('follow your heart'), 'follow your heart', 'six letters: no edit');
});

test('Japanese and Chinese match anywhere (no spaces), longer keywords allow an edit', () => {
  const zh = keywordCorrector(['上半年业绩'], 'zh');
  assert.equal(zh?.apply('首先咱们商场上半年页绩不错'), '首先咱们商场上半年业绩不错');
  const ja = keywordCorrector(['ヘンゼル'], 'ja');
  assert.equal(ja?.apply('ヘンデルは屋根が'), 'ヘンゼルは屋根が');
});

test('no keywords: no corrector; edits apply in order', () => {
  assert.equal(keywordCorrector([], 'ko'), undefined);
  assert.equal(keywordCorrector(['  '], 'ko'), undefined);
  assert.equal(applyEdits('abcdef', [{ start: 1, end: 2, text: 'X' }, { start: 4, end: 6, text: 'YZW' }]), 'aXcdYZW');
});

test('long-form segment: the words an edit touches merge into one word spanning their times', () => {
  const c = keywordCorrector(['하나님'], 'ko');
  assert.ok(c);
  const seg = { start: 0, end: 900, text: '그때 하나 임이 말씀하셨다', confidence: 0.9, words: [[0, 100, '그때'], [100, 200, '하나'], [200, 300, '임이'], [300, 900, '말씀하셨다']] as [number, number, string][] };
  const out = correctSegment(seg, c);
  assert.equal(out.text, '그때 하나님이 말씀하셨다');
  assert.deepEqual(out.words, [[0, 100, '그때'], [100, 300, '하나님이'], [300, 900, '말씀하셨다']]);
  assert.equal(out.words.map((w) => w[2]).join(' '), out.text, 'text and words still line up');
  assert.equal(out.confidence, 0.9);
  assert.equal(correctSegment({ ...seg, text: '안녕', words: [[0, 1, '안녕']] }, c).text, '안녕');
});

test('long-form segment: words glued in the text ("64.5%") are found in order; one edit inside a word', () => {
  const c = keywordCorrector(['Kubernetes'], 'en');
  assert.ok(c);
  const seg = { text: 'kubernetis grew 64.5%', words: [[0, 10, 'kubernetis'], [10, 20, 'grew'], [20, 30, '64'], [30, 40, '.5'], [40, 50, '%']] as [number, number, string][] };
  const out = correctSegment(seg, c);
  assert.equal(out.text, 'Kubernetes grew 64.5%');
  assert.deepEqual(out.words[0], [0, 10, 'Kubernetes']);
  assert.equal(out.words.length, 5);
});

test('engine segments and transcripts: merged words keep the lowest probability and a leading space', () => {
  const c = keywordCorrector(['하나님'], 'ko');
  assert.ok(c);
  const seg = {
    start: 0, end: 2, text: '오 하나 임이', avgLogProb: -0.2, noSpeechProb: 0.01,
    words: [
      { start: 0, end: 0.5, text: ' 오', probability: 0.9 },
      { start: 0.5, end: 1, text: ' 하나', probability: 0.8 },
      { start: 1, end: 2, text: ' 임이', probability: 0.4 },
    ],
  };
  const out = correctTimedSegment(seg, c);
  assert.equal(out.text, '오 하나님이');
  assert.deepEqual(out.words?.[1], { start: 0.5, end: 2, text: ' 하나님이', probability: 0.4 });
  const t = correctTranscript({ text: seg.text, language: 'ko', durationS: 2, segments: [seg] }, c);
  assert.equal(t.text, '오 하나님이');
  const same = { text: '안녕', language: 'ko', durationS: 1, segments: [{ ...seg, text: '안녕', words: [] }] };
  assert.equal(correctTranscript(same, c), same, 'nothing to correct: the same object');
  assert.equal(correctTranscript(same, undefined), same);
});

test('a thousand keywords on a long text stay cheap enough to run per segment', () => {
  const keywords = Array.from({ length: 1000 }, (_, i) => `키워드${String.fromCharCode(0xac00 + i * 7)}단어`);
  const c = keywordCorrector(keywords, 'ko');
  assert.ok(c);
  const text = '오늘 회의에서는 상반기 실적과 하반기 계획을 논의했습니다 '.repeat(10);
  // No timing assertion: this only has to finish and change nothing.
  assert.equal(c.apply(text), text);
});

test('Chinese: a homophone of the keyword, in either script, is corrected (pinyin, every reading of a character)', () => {
  const c = keywordCorrector(['撬开', '经理'], 'zh');
  assert.equal(c?.apply('當我試圖敲開門的時候'), '當我試圖撬开門的時候');
  assert.equal(c?.apply('刚才这个经历说完了'), '刚才这个经理说完了');
  assert.equal(c?.apply('我们开会了'), '我们开会了', 'one syllable of a two-character keyword is not a match');
});

test('Japanese: katakana and hiragana spellings are one word', () => {
  assert.equal(keywordCorrector(['マイク'], 'ja')?.apply('まいくを持って'), 'マイクを持って');
});

test('English: a word that sounds like the keyword (Double Metaphone) is corrected; near words that are other words are not', () => {
  const c = keywordCorrector(['clubs', 'hearts', 'three', 'four', 'five'], 'en');
  assert.equal(c?.apply('4 Queen of Cloves.'), 'four Queen of clubs.', 'four is boosted too: its numeral is spelled');
  assert.equal(c?.apply('5-5'), 'five-five', 'a numeral spelled as the keyword');
  assert.equal(c?.apply('follow your heart'), 'follow your heart', 'HRT is not HRTS');
  assert.equal(c?.apply('is there such a thing'), 'is there such a thing', 'there/three: same sounds, too many letters apart');
  assert.equal(c?.apply('waiting for you'), 'waiting for you', 'four letters: no phonetic match');
  assert.equal(keywordCorrector(['carrots'], 'en')?.apply('seven of hearts'), 'seven of hearts', 'H for K is no near miss');
  assert.equal(keywordCorrector(['clubs'], 'en', { phonetic: false })?.apply('queen of Cloves'), 'queen of Cloves');
});
