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
