import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseStreamConfig } from '../../src/clova/stream-config.js';

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

test('keywordBoosting: a hostile number of keywords or sets is refused in the ack, not a stack overflow', () => {
  // 300,000 words in one set: spreading them into push() overflowed the stack (the stream failed with 1011 / INTERNAL).
  const words = Array.from({ length: 300_000 }, (_, i) => `w${i}`).join(',');
  const one = parseStreamConfig(JSON.stringify({ keywordBoosting: { boostings: [{ words }] } }), 'ko');
  assert.equal(one.ack.keywordBoosting.status, 'Too many keywords (max 1000)');
  assert.deepEqual(one.settings.boostings, []);
  // 300,000 sets: their weights went to Math.max(...weights) the same way.
  const sets = Array.from({ length: 300_000 }, (_, i) => ({ words: `w${i}`, weight: 1 + (i % 4) }));
  const many = parseStreamConfig(JSON.stringify({ keywordBoosting: { boostings: sets } }), 'ko');
  assert.equal(many.ack.keywordBoosting.status, 'Too many keywords (max 1000)');
  const few = parseStreamConfig(JSON.stringify({ keywordBoosting: { boostings: sets.slice(0, 900) } }), 'ko');
  assert.equal(few.settings.boostWeight, 4);
  assert.equal(few.settings.boostings.length, 900);
});
