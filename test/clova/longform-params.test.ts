import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LongformError } from '../../src/clova/longform-errors.js';
import { boostingKeywords, engineLanguage, paramsFromText, parseLongformParams, shortLang } from '../../src/clova/longform-params.js';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof LongformError);
    return err.code;
  }
  return 'no error';
}

describe('parseLongformParams', () => {
  it('treats the official Python sample\'s nulls as absent and fills the spec defaults', () => {
    const p = parseLongformParams(
      { language: 'ko-KR', completion: 'sync', callback: null, userdata: null, forbiddens: null, boostings: null, diarization: null, sed: null },
      'ko',
    );
    assert.equal(p.completion, 'sync');
    assert.equal(p.callback, undefined);
    assert.deepEqual(p.userdata, {});
    assert.deepEqual(p.diarization, { enable: true, speakerCountMin: -1, speakerCountMax: -1 });
    assert.deepEqual(p.sed, { enable: false });
    assert.equal(p.wordAlignment, true);
    assert.equal(p.fullText, true);
    assert.equal(p.format, 'JSON');
  });

  it('defaults to async and to the domain language; ignores unknown keys', () => {
    const p = parseLongformParams({ somethingNew: 1 }, 'en');
    assert.equal(p.completion, 'async');
    assert.equal(p.language, 'en-US');
  });

  it('echoes userdata of any JSON type (the Java sample sends a string)', () => {
    assert.equal(parseLongformParams({ userdata: 'abc' }, 'ko').userdata, 'abc');
    assert.deepEqual(parseLongformParams({ userdata: { a: [1] } }, 'ko').userdata, { a: [1] });
  });

  it('accepts language spellings and maps them to the engine and the short code', () => {
    assert.equal(parseLongformParams({ language: 'ko-kr' }, 'en').language, 'ko-KR');
    assert.equal(parseLongformParams({ language: 'zh-TW' }, 'ko').language, 'zh-tw');
    assert.deepEqual(engineLanguage('zh-tw'), { code: 'zh', script: 'traditional' });
    assert.deepEqual(engineLanguage('enko'), { code: 'ko' });
    assert.equal(shortLang('ko-KR'), 'ko');
    assert.equal(shortLang('enko'), 'enko');
  });

  it('accepts booleans and enums as strings in any case', () => {
    const p = parseLongformParams({ wordAlignment: 'false', completion: 'SYNC', format: 'srt' }, 'ko');
    assert.equal(p.wordAlignment, false);
    assert.equal(p.completion, 'sync');
    assert.equal(p.format, 'SRT');
  });

  it('rejects bad values with ERROR_REQUEST_PARAMETER', () => {
    assert.equal(codeOf(() => parseLongformParams({ language: 'klingon' }, 'ko')), 'ERROR_REQUEST_PARAMETER');
    assert.equal(codeOf(() => parseLongformParams({ completion: 'later' }, 'ko')), 'ERROR_REQUEST_PARAMETER');
    assert.equal(codeOf(() => parseLongformParams({ wordAlignment: 'maybe' }, 'ko')), 'ERROR_REQUEST_PARAMETER');
    assert.equal(codeOf(() => parseLongformParams({ callback: 'ftp://x/y' }, 'ko')), 'ERROR_REQUEST_PARAMETER');
    assert.equal(codeOf(() => parseLongformParams({ diarization: { enable: true, speakerCountMin: 0 } }, 'ko')), 'ERROR_REQUEST_PARAMETER');
    assert.equal(codeOf(() => parseLongformParams({ diarization: { speakerCountMax: 31 } }, 'ko')), 'ERROR_REQUEST_PARAMETER');
    assert.equal(codeOf(() => parseLongformParams({ diarization: { speakerCountMin: 3, speakerCountMax: 2 } }, 'ko')), 'ERROR_REQUEST_PARAMETER');
    const words = Array.from({ length: 1001 }, (_, i) => `w${i}`).join(',');
    assert.equal(codeOf(() => parseLongformParams({ boostings: [{ words }] }, 'ko')), 'ERROR_REQUEST_PARAMETER');
  });

  it('rejects non-object params with ERROR_PARAMS_FORMAT_INVALID', () => {
    assert.equal(codeOf(() => parseLongformParams([1, 2], 'ko')), 'ERROR_PARAMS_FORMAT_INVALID');
    assert.equal(codeOf(() => parseLongformParams('text', 'ko')), 'ERROR_PARAMS_FORMAT_INVALID');
  });

  it('answers ERROR_DATA_CONFLICT for boostings together with useDomainBoostings', () => {
    assert.equal(codeOf(() => parseLongformParams({ boostings: [{ words: 'a,b' }], useDomainBoostings: true }, 'ko')), 'ERROR_DATA_CONFLICT');
    assert.equal(parseLongformParams({ boostings: [{ words: 'a, b' }] }, 'ko').boostings.length, 1);
  });

  it('takes the keywords from the request, or from the domain snapshot with useDomainBoostings', () => {
    assert.deepEqual(boostingKeywords(parseLongformParams({ boostings: [{ words: '하나님, 예수' }, { words: 'Sori' }] }, 'ko')), ['하나님', '예수', 'Sori']);
    const domain = parseLongformParams({ useDomainBoostings: true }, 'ko');
    assert.deepEqual(boostingKeywords(domain), [], 'nothing registered (yet)');
    domain.domainKeywords = ['서울역'];
    assert.deepEqual(boostingKeywords(domain), ['서울역']);
  });
});

describe('inputs that must not be accepted and then ignored', () => {
  it('wrongly typed sections get a documented error instead of their defaults', () => {
    assert.equal(codeOf(() => parseLongformParams({ diarization: 'true' }, 'ko')), 'ERROR_REQUEST_PARAMETER');
    assert.equal(codeOf(() => parseLongformParams({ diarization: true }, 'ko')), 'ERROR_REQUEST_PARAMETER');
    assert.equal(codeOf(() => parseLongformParams({ boostings: '심폐소생술,취득' }, 'ko')), 'ERROR_REQUEST_PARAMETER');
    assert.equal(codeOf(() => parseLongformParams({ sed: 'on' }, 'ko')), 'ERROR_REQUEST_PARAMETER');
    assert.equal(codeOf(() => parseLongformParams({ completion: 'later' }, 'ko')), 'ERROR_REQUEST_PARAMETER');
    assert.equal(codeOf(() => parseLongformParams({ language: 'Korean' }, 'ko')), 'ERROR_REQUEST_PARAMETER');
    assert.equal(codeOf(() => parseLongformParams({ wordAlignment: 'yes' }, 'ko')), 'ERROR_REQUEST_PARAMETER');
  });

  it('lenient where the meaning is plain: strings for booleans and numbers, case, spaces around a callback', () => {
    const p = parseLongformParams(
      { completion: 'SYNC', language: 'KO-kr', diarization: { enable: 'true', speakerCountMin: '2' }, callback: '  https://example.com/hook  ' },
      'en',
    );
    assert.equal(p.completion, 'sync');
    assert.equal(p.language, 'ko-KR');
    assert.deepEqual(p.diarization, { enable: true, speakerCountMin: 2, speakerCountMax: -1 });
    assert.equal(p.callback, 'https://example.com/hook');
  });
});

describe('paramsFromText', () => {
  it('reads JSON with or without a BOM; empty means defaults; anything else is ERROR_PARAMS_FORMAT_INVALID', () => {
    assert.deepEqual(paramsFromText('\uFEFF{"completion":"sync"}'), { completion: 'sync' });
    assert.deepEqual(paramsFromText('  '), {});
    assert.equal(codeOf(() => paramsFromText('{"completion":')), 'ERROR_PARAMS_FORMAT_INVALID');
    assert.equal(codeOf(() => parseLongformParams(paramsFromText('[1]'), 'ko')), 'ERROR_PARAMS_FORMAT_INVALID');
  });
});

