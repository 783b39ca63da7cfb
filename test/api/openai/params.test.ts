import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OpenAIError } from '../../../src/api/openai/errors.js';
import { parseAudioRequest, type FormFields } from '../../../src/api/openai/params.js';

const form = (fields: Record<string, string | string[]>): FormFields =>
  new Map(Object.entries(fields).map(([k, v]) => [k, Array.isArray(v) ? v : [v]]));

/** The 400 a form gets: [param, code]. */
function refusal(fields: Record<string, string | string[]>, task: 'transcribe' | 'translate' = 'transcribe'): [string | null, string | null, number] {
  try {
    parseAudioRequest(form(fields), task);
  } catch (err) {
    assert.ok(err instanceof OpenAIError, String(err));
    return [err.param, err.code, err.status];
  }
  assert.fail(`accepted ${JSON.stringify(fields)}`);
}

describe('OpenAI audio request fields', () => {
  it('defaults: json, temperature 0, segments, no words, no stream, language identified', () => {
    assert.deepEqual(parseAudioRequest(form({ model: 'whisper-1' }), 'transcribe'), {
      task: 'transcribe', model: 'whisper-1', language: undefined, prompt: undefined, temperature: 0,
      responseFormat: 'json', words: false, segments: true, stream: false,
    });
  });

  it('every field as the SDKs send it', () => {
    const r = parseAudioRequest(form({
      model: 'whisper-base', language: 'KO', prompt: ' 회의록 ', temperature: '0.2', response_format: 'verbose_json',
      'timestamp_granularities[]': ['word', 'segment'], stream: 'false', 'include[]': 'logprobs', chunking_strategy: 'auto',
    }), 'transcribe');
    assert.deepEqual(r, {
      task: 'transcribe', model: 'whisper-base', language: 'ko', prompt: ' 회의록 ', temperature: 0.2,
      responseFormat: 'verbose_json', words: true, segments: true, stream: false,
    });
    // Words only: no segments (as OpenAI's); a comma list works too.
    const words = parseAudioRequest(form({ model: 'm', response_format: 'verbose_json', timestamp_granularities: 'word' }), 'transcribe');
    assert.deepEqual([words.words, words.segments], [true, false]);
    assert.equal(parseAudioRequest(form({ model: 'm', stream: 'true', response_format: 'text' }), 'transcribe').stream, true);
    assert.equal(parseAudioRequest(form({ model: 'm', temperature: '1' }), 'transcribe').temperature, 1);
    assert.equal(parseAudioRequest(form({ model: 'm', prompt: '   ' }), 'transcribe').prompt, undefined);
  });

  it('translations: granularities and stream are not theirs (ignored), a source language is taken', () => {
    const r = parseAudioRequest(form({ model: 'whisper-1', stream: 'true', 'timestamp_granularities[]': 'word', language: 'ja' }), 'translate');
    assert.deepEqual([r.task, r.stream, r.words, r.segments, r.language], ['translate', false, false, true, 'ja']);
  });

  it('each bad value is a 400 naming its field', () => {
    assert.deepEqual(refusal({}), ['model', 'missing_required_parameter', 400]);
    assert.deepEqual(refusal({ model: '  ' }), ['model', 'missing_required_parameter', 400]);
    assert.deepEqual(refusal({ model: ['a', 'b'] }), ['model', 'invalid_value', 400]);
    assert.deepEqual(refusal({ model: 'm', response_format: 'diarized_json' }), ['response_format', 'invalid_value', 400]);
    assert.deepEqual(refusal({ model: 'm', response_format: 'XML' }), ['response_format', 'invalid_value', 400]);
    for (const language of ['xx', 'english', 'ko-KR', 'constructor', '__proto__']) {
      assert.deepEqual(refusal({ model: 'm', language }), ['language', 'invalid_value', 400], language);
    }
    for (const temperature of ['-0.1', '1.5', 'hot', 'NaN', 'Infinity', '0x1', '1e5', ' ']) {
      if (temperature.trim() === '') continue;
      assert.deepEqual(refusal({ model: 'm', temperature }), ['temperature', 'invalid_value', 400], temperature);
    }
    assert.deepEqual(refusal({ model: 'm', stream: 'yes please' }), ['stream', 'invalid_value', 400]);
    assert.deepEqual(refusal({ model: 'm', stream: 'true', response_format: 'srt' }), ['stream', 'invalid_value', 400]);
    assert.deepEqual(refusal({ model: 'm', 'timestamp_granularities[]': 'word' }), ['timestamp_granularities', 'invalid_value', 400]);
    assert.deepEqual(refusal({ model: 'm', response_format: 'verbose_json', 'timestamp_granularities[]': 'sentence' }), ['timestamp_granularities', 'invalid_value', 400]);
  });
});
