import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_STREAM_CONFIG_BYTES, parseStreamConfig, StreamConfigError } from '../../src/clova/stream-config.js';

test('keywordBoosting: keywords of every enabled set; the largest weight scales the bias', () => {
  const { settings, ack } = parseStreamConfig(JSON.stringify({
    keywordBoosting: { boostings: [{ words: '하나님,예수', weight: 2.0 }, { words: '성경' }, { words: '꺼짐', weight: 0 }] },
  }), 'ko');
  assert.equal(ack.keywordBoosting.status, 'Success');
  assert.deepEqual(settings.boostings, ['하나님', '예수', '성경']);
  assert.equal(settings.boostWeight, 2);
  assert.equal(settings.useDomainBoostings, false);
  assert.equal(parseStreamConfig('{}', 'ko').settings.boostWeight, 1);
});

test('keywordBoosting: boostingIDs ask for the domain\'s registered set, not together with boostings', () => {
  const ids = parseStreamConfig(JSON.stringify({ keywordBoosting: { boostingIDs: ['1'] } }), 'ko');
  assert.equal(ids.settings.useDomainBoostings, true);
  assert.equal(ids.ack.keywordBoosting.status, 'Success');
  const both = parseStreamConfig(JSON.stringify({ keywordBoosting: { boostingIDs: '1', boostings: [{ words: 'a' }] } }), 'ko');
  assert.equal(both.ack.keywordBoosting.status, 'Data conflict');
  assert.equal(both.ack.status, 'Partial Success');
  assert.equal(both.settings.useDomainBoostings, false, 'the explicit keywords are kept');
});

test('keywordBoosting: more than 1,000 keywords is refused in the ack, as long-form refuses them', () => {
  const words = Array.from({ length: 1001 }, (_, i) => `단어${i}`).join(',');
  const { settings, ack } = parseStreamConfig(JSON.stringify({ keywordBoosting: { boostings: [{ words, weight: 2 }] } }), 'ko');
  assert.equal(ack.keywordBoosting.status, 'Too many keywords (max 1000)');
  assert.equal(ack.status, 'Partial Success');
  assert.deepEqual(settings.boostings, []);
  assert.equal(settings.boostWeight, 1);
  const limit = Array.from({ length: 1000 }, (_, i) => `단어${i}`).join(',');
  assert.equal(parseStreamConfig(JSON.stringify({ keywordBoosting: { boostings: [{ words: limit }] } }), 'ko').settings.boostings.length, 1000);
});

test('keywordBoosting: a hostile number of keywords is refused in the ack, not a stack overflow', () => {
  // 131,000 one-letter words fit in a config (just under 256 KiB): spreading them into push()
  // overflowed the stack, and the stream failed with 1011 / INTERNAL.
  const text = JSON.stringify({ keywordBoosting: { boostings: [{ words: 'a,'.repeat(131_000) }] } });
  assert.ok(Buffer.byteLength(text) <= MAX_STREAM_CONFIG_BYTES);
  const { settings, ack } = parseStreamConfig(text, 'ko');
  assert.equal(ack.keywordBoosting.status, 'Too many keywords (max 1000)');
  assert.deepEqual(settings.boostings, []);
  const sets = Array.from({ length: 900 }, (_, i) => ({ words: `w${i}`, weight: 1 + (i % 4) }));
  const few = parseStreamConfig(JSON.stringify({ keywordBoosting: { boostings: sets } }), 'ko');
  assert.equal(few.settings.boostWeight, 4);
  assert.equal(few.settings.boostings.length, 900);
});

test('a config over 256 KiB is refused as malformed before it is parsed (megabytes of words held the event loop for seconds)', () => {
  const words = Array.from({ length: 30_000 }, (_, i) => `단어${i}`).join(',');
  assert.ok(Buffer.byteLength(words) > MAX_STREAM_CONFIG_BYTES);
  assert.throws(() => parseStreamConfig(JSON.stringify({ forbidden: { forbiddens: words } }), 'ko'), StreamConfigError);
  // 1,000 keywords of 80 syllables fit.
  const long = Array.from({ length: 1000 }, (_, i) => `${'가'.repeat(76)}${i}`.padEnd(80, '나')).join(',');
  const { settings, ack } = parseStreamConfig(JSON.stringify({ keywordBoosting: { boostings: [{ words: long }] } }), 'ko');
  assert.equal(ack.keywordBoosting.status, 'Success');
  assert.equal(settings.boostings.length, 1000);
});
