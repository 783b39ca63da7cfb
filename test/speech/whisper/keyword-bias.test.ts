import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FIRST_TOKEN_SHARE, KeywordBias, keywordPrompt, keywordSequences } from '../../../src/speech/whisper/keyword-bias.js';
import { beamSearch, sampleSearch, LogitRules, mulberry32, type SearchOptions } from '../../../src/speech/whisper/search.js';
import type { DecoderRunner, KvCache } from '../../../src/speech/whisper/decoder-runner.js';
import type { WhisperModel } from '../../../src/speech/whisper/model.js';

const FIRST = 2 * FIRST_TOKEN_SHARE;

test('a keyword earns its bonus token by token (less for its first) and keeps it once complete', () => {
  const bias = new KeywordBias([[3, 4, 5]], 2);
  let step = bias.advance(bias.start, 3);
  assert.equal(step.delta, FIRST);
  assert.equal(step.state.partial, FIRST);
  step = bias.advance(step.state, 4);
  assert.equal(step.delta, 2);
  assert.equal(step.state.partial, FIRST + 2);
  step = bias.advance(step.state, 5);
  assert.equal(step.delta, 2);
  assert.equal(step.state, bias.start, 'a finished keyword goes back to the root with nothing left to revoke');
  assert.equal(bias.finish(step.state), 0);
});

test('leaving a keyword unfinished takes its bonus back; the token may start another keyword', () => {
  const bias = new KeywordBias([[3, 4, 5], [7, 8]], 2);
  const s1 = bias.advance(bias.start, 3).state;
  const s2 = bias.advance(s1, 4).state;
  const broken = bias.advance(s2, 9);
  assert.equal(broken.delta, -(FIRST + 2));
  assert.equal(broken.state, bias.start);
  const restarted = bias.advance(s2, 7);
  assert.equal(restarted.delta, -(FIRST + 2) + FIRST, 'revoked, then the bonus of the new keyword start');
  assert.equal(restarted.state.partial, FIRST);
  assert.equal(bias.finish(s2), -(FIRST + 2), 'the end of text revokes an unfinished match');
});

test('a keyword that is the prefix of a longer one keeps its bonus when the longer one breaks off', () => {
  const bias = new KeywordBias([[3, 4], [3, 4, 5, 6]], 1);
  const s = bias.advance(bias.advance(bias.start, 3).state, 4);
  assert.equal(s.delta, 1);
  assert.equal(s.state.partial, 0, '[3, 4] is complete: nothing to revoke');
  const s5 = bias.advance(s.state, 5);
  assert.equal(s5.state.partial, 1);
  assert.equal(bias.advance(s5.state, 9).delta, -1, 'only the extension beyond the shorter keyword is revoked');
});

test('keyword sequences: with and without a leading space, lower-cased Latin variants, no duplicates', () => {
  const encode = (t: string): number[] => [...t].map((c) => c.charCodeAt(0));
  const seqs = keywordSequences(['Sori', 'sori', '  ', '하나'], encode);
  const texts = seqs.map((s) => String.fromCharCode(...s.tokens)).sort();
  assert.deepEqual(texts, [' Sori', ' sori', ' 하나', 'Sori', 'sori', '하나'].sort());
  for (const s of seqs) assert.deepEqual(s.shares, s.tokens.map((_, i) => (i === 0 ? FIRST_TOKEN_SHARE : 1)), 'default shares');
});

test('Chinese and Japanese keywords: no bonus for a bare space or a byte piece; the first character is paid with the second', () => {
  // A toy byte-level tokenizer: a space alone, and each CJK character as two pieces
  // (lead 1000 + code % 7, shared by many characters; tail 2000 + code).
  const encode = (t: string): number[] => [...t].flatMap((c) => (c === ' ' ? [32] : [1000 + (c.codePointAt(0) ?? 0) % 7, 2000 + (c.codePointAt(0) ?? 0)]));
  const [spaced, glued] = keywordSequences(['屋根'], encode);
  assert.equal(spaced.tokens[0], 32);
  assert.deepEqual(spaced.shares, [0, 0, 0, 0, FIRST_TOKEN_SHARE + 3]);
  assert.deepEqual(glued.shares, [0, 0, 0, FIRST_TOKEN_SHARE + 3]);
  const bias = new KeywordBias(keywordSequences(['屋根'], encode), 2);
  let state = bias.start;
  for (const t of glued.tokens.slice(0, 3)) {
    const step = bias.advance(state, t);
    assert.equal(step.delta, 0, 'nothing before the second character is complete');
    state = step.state;
  }
  const last = bias.advance(state, glued.tokens[3]);
  assert.equal(last.delta, 2 * (FIRST_TOKEN_SHARE + 3), 'the same total as the default shares, paid at once');
  assert.equal(bias.bonusInto(state.node, glued.tokens[3]), 2 * (FIRST_TOKEN_SHARE + 3));
  assert.equal(bias.bonusInto(bias.root, 32), 0, 'a bare space earns nothing');
});

test('the keyword prompt takes whole keywords in order while they fit the token budget', () => {
  const count = (t: string): number => [...t.trim()].length; // one token per character
  assert.equal(keywordPrompt(['alpha', 'beta', 'gamma'], count, 100), 'alpha, beta, gamma');
  // alpha (5) + sep 1 + beta (4) = 10; gamma would need 6 more; "xy" (2 + 1) still fits
  assert.equal(keywordPrompt(['alpha', 'beta', 'gamma', 'xy'], count, 13), 'alpha, beta, xy');
  assert.equal(keywordPrompt(['toolongforthebudget'], count, 5), undefined);
  const many = Array.from({ length: 1000 }, (_, i) => `keyword${i}`);
  const prompt = keywordPrompt(many, count, 223) ?? '';
  assert.ok(prompt.startsWith('keyword0, keyword1'));
  assert.ok(prompt.split(', ').length < 30, '1000 keywords are cut to what fits');
});

// A toy decoder: vocabulary of 16, text tokens 0-9, end of text 10, timestamps from 12. The
// "acoustics" prefer 1 6 7; the keyword 3 4 5 is a little less likely at each step.
const EOT = 10;
const TS = 12;
const V = 16;
const model = {
  suppressTokens: [], vocabSize: V, beginSuppressTokens: [], maxInitialTimestampIndex: 1,
  tokens: { eot: EOT, noTimestamps: 11, timestampBegin: TS, sot: 13, sotPrev: 14, transcribe: 15, noSpeech: 15 },
} as unknown as WhisperModel;

function logitsAfter(history: readonly number[]): Float32Array {
  const row = new Float32Array(V).fill(-10);
  const key = history.join(',');
  const table: Record<string, [number, number][]> = {
    '': [[1, 0], [3, -1.5]],
    '1': [[6, 0]],
    '1,6': [[7, 0]],
    '1,6,7': [[EOT, 0]],
    '3': [[4, -0.5], [8, 0]],
    '3,4': [[5, -0.3], [EOT, 0]],
    '3,4,5': [[EOT, 0]],
    '3,8': [[EOT, 0]],
  };
  for (const [t, v] of table[key] ?? [[EOT, 0]]) row[t] = v;
  return row;
}

interface ToyCache { histories: number[][] }

function toyRunner(): DecoderRunner {
  return {
    tile: (_c: KvCache, n: number) => ({ histories: Array.from({ length: n }, () => []) }) as unknown as KvCache,
    reorder: (c: KvCache, sources: number[]) => ({ histories: sources.map((s) => [...(c as unknown as ToyCache).histories[s]]) }) as unknown as KvCache,
    step: async (tokens: number[], c: KvCache) => {
      const histories = (c as unknown as ToyCache).histories.map((h, i) => [...h, tokens[i]]);
      const logits = new Float32Array(histories.length * V);
      histories.forEach((h, i) => logits.set(logitsAfter(h), i * V));
      return { logits, cache: { histories } as unknown as KvCache };
    },
    release: () => undefined,
  } as unknown as DecoderRunner;
}

const opts = (extra: Partial<SearchOptions> = {}): SearchOptions => ({
  beamSize: 3, temperature: 0, bestOf: 3, sampleLen: 10, timestamps: false, rng: mulberry32(1), ...extra,
});

test('beam search: the bias pulls a slightly less likely keyword through; log-probabilities stay the model\'s', async () => {
  const plain = await beamSearch(toyRunner(), new LogitRules(model), EOT, TS, logitsAfter([]), {} as KvCache, opts());
  assert.deepEqual(plain.tokens, [1, 6, 7]);
  const bias = new KeywordBias([[3, 4, 5]], 2);
  const boosted = await beamSearch(toyRunner(), new LogitRules(model), EOT, TS, logitsAfter([]), {} as KvCache, opts({ bias }));
  assert.deepEqual(boosted.tokens, [3, 4, 5]);
  const modelSum = boosted.tokenLogprobs.reduce((a, b) => a + b, 0);
  assert.ok(boosted.sumLogprob < modelSum + 1e-6 && boosted.sumLogprob < 0, 'no bonus inside the reported log-probability');
});

test('beam search: a keyword the model cannot finish does not win on its partial bonus', async () => {
  // After 3, the model insists on 8: the keyword 3 9 is never completed.
  const bias = new KeywordBias([[3, 9]], 2);
  const r = await beamSearch(toyRunner(), new LogitRules(model), EOT, TS, logitsAfter([]), {} as KvCache, opts({ bias }));
  assert.deepEqual(r.tokens, [1, 6, 7]);
});

test('sampling: keyword tokens are sampled more often with the bias, and the result stays consistent', async () => {
  const bias = new KeywordBias([[3, 4, 5]], 3);
  const r = await sampleSearch(toyRunner(), new LogitRules(model), EOT, TS, logitsAfter([]), {} as KvCache,
    opts({ temperature: 0.5, bestOf: 5, bias }));
  assert.deepEqual(r.tokens, [3, 4, 5]);
  assert.equal(r.tokenLogprobs.length, r.tokens.length);
  assert.ok(r.tokenLogprobs.every((lp) => lp <= 0), 'recorded log-probabilities have the bonus taken out');
});
