import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { parseSync } from 'subtitle';
import { buildCues, cueOptions, wrap, type CueSource } from '../../../src/transcript/subtitles/cues.js';
import { writeSubtitles } from '../../../src/transcript/subtitles/index.js';

// webvtt-parser implements the W3C WebVTT parsing algorithm and reports every deviation.
const { WebVTTParser } = createRequire(import.meta.url)('webvtt-parser') as {
  WebVTTParser: new () => { parse(input: string, mode: string): { errors: { message: string }[]; cues: { startTime: number; endTime: number; text: string }[] } };
};

/** A segment of evenly timed words. */
function seg(start: number, words: string[], wordMs = 400, gapMs = 50, speaker?: string): CueSource {
  let t = start;
  const ws: [number, number, string][] = words.map((w) => {
    const item: [number, number, string] = [t, t + wordMs, w];
    t += wordMs + gapMs;
    return item;
  });
  return { start, end: t, text: words.join(' '), words: ws, speaker };
}

const english = 'the quick brown fox jumps over the lazy dog while seven small birds sing in the old oak tree near the quiet river bank'.split(' ');
const korean = '오늘 회의에서 다룰 안건은 모두 세 가지입니다 첫째는 예산 둘째는 일정 셋째는 인력 배치에 관한 것입니다'.split(' ');

test('cues respect the line, line-count and duration limits', () => {
  for (const [lang, words] of [['en', english], ['ko', korean]] as const) {
    const o = cueOptions(lang);
    const cues = buildCues([seg(1000, words), seg(20_000, words.slice(0, 3))], o);
    assert.ok(cues.length >= 2);
    for (const c of cues) {
      assert.ok(c.lines.length <= 2, `${lang}: ${c.lines.join(' / ')}`);
      for (const l of c.lines) assert.ok([...l].length <= o.maxLineChars, `${lang}: "${l}" is too long`);
      assert.ok(c.end - c.start >= 700 && c.end - c.start <= 7000, `${lang}: ${c.start}-${c.end}`);
    }
    // Every word is in exactly one cue, in order.
    assert.equal(cues.flatMap((c) => c.lines.join(' ').split(' ')).join(' '), [...words, ...words.slice(0, 3)].join(' '));
    for (let i = 1; i < cues.length; i++) assert.ok(cues[i].start >= cues[i - 1].end, 'cues never overlap');
  }
});

test('a one-word segment still shows for 0.7 s; a pause starts a new cue', () => {
  const cues = buildCues([seg(0, ['hi'], 200), seg(5000, ['a', 'b'], 300, 2000)], cueOptions('en'));
  assert.deepEqual(cues.map((c) => [c.start, c.end, c.lines.join(' ')]), [[0, 700, 'hi'], [5000, 5700, 'a'], [7300, 8000, 'b']]);
});

test('short cues squeezed between neighbours merge instead of flashing by', () => {
  const s: CueSource = { start: 0, end: 3000, text: 'one two three', words: [[0, 1000, 'one'], [1000, 1200, 'two'], [1200, 3000, 'three']] };
  // Force one word per cue with a tiny line limit, so "two" (200 ms) has no room of its own.
  const cues = buildCues([s], { ...cueOptions('en'), maxLineChars: 5, maxLines: 1 });
  for (const c of cues) assert.ok(c.end - c.start >= 700, JSON.stringify(cues));
});

test('lines are balanced and Chinese/Japanese break between characters', () => {
  const o = cueOptions('en');
  assert.deepEqual(wrap('the quick brown fox jumps over the lazy dog while seven birds', o, ' '), ['the quick brown fox jumps over', 'the lazy dog while seven birds']);
  const zh = cueOptions('zh');
  const lines = wrap('今天天气很好，我们一起去公园散步吧，好不好呢', zh, '');
  assert.equal(lines.length, 2);
  assert.ok(lines.every((l) => [...l].length <= 16));
  assert.equal(lines.join(''), '今天天气很好，我们一起去公园散步吧，好不好呢');
});

test('SRT parses back with a well-kept parser: same cues, times and text', () => {
  const segments = [seg(1000, english), seg(20_000, ['<b>', 'fish', '&', 'chips'])];
  const srt = writeSubtitles('SRT', segments, 'en');
  const cues = buildCues(segments, cueOptions('en'));
  const parsed = parseSync(srt).filter((n) => n.type === 'cue');
  assert.equal(parsed.length, cues.length);
  parsed.forEach((n, i) => {
    const d = n.data as { start: number; end: number; text: string };
    assert.equal(d.start, cues[i].start);
    assert.equal(d.end, cues[i].end);
    assert.equal(d.text, cues[i].lines.join('\n'));
  });
  assert.match(srt, /^1\n00:00:01,000 --> /);
});

test('VTT passes the W3C parsing algorithm without an error; speakers are voice spans; markup is escaped', () => {
  const segments = [seg(1000, korean, 400, 50, 'A'), seg(30_000, ['<b>', '&', 'x'], 400, 50, 'B')];
  const vtt = writeSubtitles('VTT', segments, 'ko');
  const tree = new WebVTTParser().parse(vtt, 'subtitles');
  assert.deepEqual(tree.errors.map((e) => e.message), []);
  const cues = buildCues(segments, cueOptions('ko'));
  assert.equal(tree.cues.length, cues.length);
  assert.equal(tree.cues[0].startTime, 1);
  assert.match(tree.cues[0].text, /^<v A>/);
  assert.match(tree.cues.at(-1)!.text, /^<v B>&lt;b&gt; &amp; x$/);
});

test('SMI has a SAMI header, a caption class for the language, and a clearing SYNC after each cue', () => {
  const smi = writeSubtitles('SMI', [seg(350, ['안녕']), seg(4510, ['안녕하세요.', '무엇을', '도와드릴까요?'])], 'ko');
  assert.match(smi, /^<SAMI>\r\n<HEAD>\r\n<TITLE>Sori<\/TITLE>\r\n<STYLE TYPE="text\/css">/);
  assert.match(smi, /\.KRCC \{ Name:Korean; lang:ko-KR; SAMIType:CC; \}/);
  assert.match(smi, /<SYNC Start=350><P Class=KRCC>안녕\r\n<SYNC Start=1050><P Class=KRCC>&nbsp;\r\n/);
  assert.match(smi, /<SYNC Start=4510><P Class=KRCC>안녕하세요\. 무엇을<br>도와드릴까요\?/);
  assert.match(smi, /<\/BODY>\r\n<\/SAMI>\r\n$/);
});
