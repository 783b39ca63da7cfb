import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClovaShortError } from '../../src/clova/short-errors.js';
import { boostingKeywords, parseShortQuery } from '../../src/clova/short-query.js';

function kindOf(query: unknown): string {
  try {
    parseShortQuery(query);
  } catch (err) {
    assert.ok(err instanceof ClovaShortError);
    return err.kind;
  }
  return 'ok';
}

describe('parseShortQuery', () => {
  it('maps the four CLOVA language names, leniently about case', () => {
    assert.equal(parseShortQuery({ lang: 'Kor' }).language, 'ko');
    assert.equal(parseShortQuery({ lang: 'Eng' }).language, 'en');
    assert.equal(parseShortQuery({ lang: 'Jpn' }).language, 'ja');
    assert.equal(parseShortQuery({ lang: 'Chn' }).language, 'zh');
    assert.equal(parseShortQuery({ lang: 'kor' }).language, 'ko');
  });

  it('tells a missing language from an invalid one', () => {
    assert.equal(kindOf({}), 'emptyLanguage');
    assert.equal(kindOf({ lang: '' }), 'emptyLanguage');
    assert.equal(kindOf({ lang: 'Fra' }), 'invalidLanguage');
    assert.equal(kindOf({ lang: 'ko' }), 'invalidLanguage');
    assert.equal(kindOf({ lang: ['Kor', 'Eng'] }), 'invalidLanguage');
  });

  it('reads boolean flags as true/false/1/0 in any case and refuses anything else', () => {
    assert.deepEqual(parseShortQuery({ lang: 'Eng' }), {
      language: 'en',
      assessment: false,
      utterance: undefined,
      graph: false,
      keywords: [],
    });
    assert.equal(parseShortQuery({ lang: 'Eng', graph: 'True' }).graph, true);
    assert.equal(parseShortQuery({ lang: 'Eng', graph: '1' }).graph, true);
    assert.equal(parseShortQuery({ lang: 'Eng', graph: 'false' }).graph, false);
    assert.equal(parseShortQuery({ lang: 'Eng', assessment: 'true', utterance: 'hello' }).assessment, true);
    assert.equal(kindOf({ lang: 'Eng', graph: 'maybe' }), 'badParams');
    assert.equal(kindOf({ lang: 'Eng', assessment: '' }), 'badParams');
    assert.equal(kindOf({ lang: 'Eng', graph: ['true', 'false'] }), 'badParams');
  });

  it('checks the utterance of an English or Korean assessment: not empty, <= 500 characters, a word in the language', () => {
    assert.equal(parseShortQuery({ lang: 'Kor', assessment: 'true', utterance: '국물이 맛있어요' }).utterance, '국물이 맛있어요');
    assert.equal(parseShortQuery({ lang: 'Eng', assessment: 'true' }).utterance, undefined, 'no utterance: what is recognised');
    assert.equal(kindOf({ lang: 'Eng', assessment: 'true', utterance: '' }), 'badParams');
    assert.equal(kindOf({ lang: 'Eng', assessment: 'true', utterance: '  ' }), 'badParams');
    assert.equal(kindOf({ lang: 'Eng', assessment: 'true', utterance: 'a '.repeat(251) }), 'badParams');
    assert.equal(parseShortQuery({ lang: 'Eng', assessment: 'true', utterance: 'a '.repeat(250) }).assessment, true);
    assert.equal(kindOf({ lang: 'Eng', assessment: 'true', utterance: '안녕하세요' }), 'badParams');
    assert.equal(kindOf({ lang: 'Kor', assessment: 'true', utterance: 'hello there' }), 'badParams');
    assert.equal(kindOf({ lang: 'Eng', assessment: 'true', utterance: '?!' }), 'badParams');
    assert.equal(kindOf({ lang: 'Eng', assessment: 'true', utterance: ['go', 'stop'] }), 'badParams');
    // Without assessment the utterance is not looked at, as CLOVA does.
    assert.equal(parseShortQuery({ lang: 'Eng', utterance: '' }).assessment, false);
  });

  it('Japanese and Chinese ignore assessment (CLOVA assesses English; Sori adds Korean)', () => {
    assert.equal(parseShortQuery({ lang: 'Jpn', assessment: 'true', utterance: '' }).assessment, false);
    assert.equal(parseShortQuery({ lang: 'Chn', assessment: 'true' }).assessment, false);
  });

  it('checks the language before the other parameters', () => {
    assert.equal(kindOf({ graph: 'maybe' }), 'emptyLanguage');
  });

  it('limits boostings to 512 characters', () => {
    assert.equal(parseShortQuery({ lang: 'Kor', boostings: 'a'.repeat(512) }).keywords.length, 1);
    assert.equal(kindOf({ lang: 'Kor', boostings: 'a'.repeat(513) }), 'badParams');
  });

  it('ignores parameters it does not know', () => {
    assert.equal(parseShortQuery({ lang: 'Kor', foo: 'bar' }).language, 'ko');
  });
});

describe('boostingKeywords', () => {
  it('splits on tabs and keeps keywords of 3+ characters, once each', () => {
    assert.deepEqual(boostingKeywords('네이버\t클로바\t음성\t클로바 스피치\t네이버\t ab \tabc'), [
      '네이버',
      '클로바',
      '클로바 스피치',
      'abc',
    ]);
    assert.deepEqual(boostingKeywords(undefined), []);
    assert.deepEqual(boostingKeywords(''), []);
  });
});

describe('repeated query keys (the query parser gives an array)', () => {
  it('are refused instead of one value being picked', () => {
    assert.equal(kindOf({ lang: ['Kor', 'Eng'] }), 'invalidLanguage');
    assert.equal(kindOf({ lang: ['Kor', 'Kor'] }), 'invalidLanguage');
    assert.equal(kindOf({ lang: 'Kor', graph: ['true', 'false'] }), 'badParams');
    assert.equal(kindOf({ lang: 'Kor', boostings: ['abc', 'def'] }), 'badParams');
  });
});

