import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deltaEvent, doneEvent, formatResult, joinTexts, sseEvent, type AudioResult } from '../../../src/api/openai/formats.js';
import { parseAudioRequest } from '../../../src/api/openai/params.js';
import { OpenAIError, toOpenAIError } from '../../../src/api/openai/errors.js';
import { MediaError } from '../../../src/media/decode.js';
import { EngineBusyError, EngineFailedError, UnsupportedLanguageError } from '../../../src/speech/engine.js';

const result: AudioResult = {
  task: 'transcribe',
  language: 'ko',
  durationS: 7.9004,
  text: '안녕하세요. 반갑습니다.',
  segments: [
    {
      start: 0.5, end: 3.2, text: '안녕하세요.', avgLogProb: -0.2345678, noSpeechProb: 0.0123456789, tokens: [50364, 1, 2, 50500],
      seek: 0, temperature: 0, compressionRatio: 0.9876, words: [{ text: ' 안녕하세요.', start: 0.5, end: 3.1, probability: 0.9 }],
    },
    {
      start: 3.6, end: 7.9, text: '반갑습니다.', avgLogProb: -0.4, noSpeechProb: 0.02, tokens: [50544, 3, 50700],
      seek: 0, temperature: 0.2, compressionRatio: 1.1, words: [{ text: ' 반갑', start: 3.6, end: 5 }, { text: '습니다.', start: 5, end: 7.5 }].map((w) => ({ ...w, probability: 1 })),
    },
  ],
};

const request = (fields: Record<string, string>, task: 'transcribe' | 'translate' = 'transcribe') =>
  parseAudioRequest(new Map(Object.entries({ model: 'whisper-1', ...fields }).map(([k, v]) => [k, [v]])), task);

describe('OpenAI response formats', () => {
  it('json: text and the seconds used (rounded up); translations: text only', () => {
    assert.deepEqual(formatResult(result, request({})), {
      contentType: 'application/json; charset=utf-8', body: { text: result.text, usage: { type: 'duration', seconds: 8 } },
    });
    assert.deepEqual(formatResult({ ...result, task: 'translate' }, request({}, 'translate')).body, { text: result.text });
  });

  it('text, srt and vtt: the text, and one cue per segment', () => {
    assert.deepEqual(formatResult(result, request({ response_format: 'text' })), { contentType: 'text/plain; charset=utf-8', body: `${result.text}\n` });
    assert.equal(
      formatResult(result, request({ response_format: 'srt' })).body,
      '1\n00:00:00,500 --> 00:00:03,200\n안녕하세요.\n\n2\n00:00:03,600 --> 00:00:07,900\n반갑습니다.\n',
    );
    const vtt = formatResult(result, request({ response_format: 'vtt' }));
    assert.equal(vtt.contentType, 'text/vtt; charset=utf-8');
    assert.equal(vtt.body, 'WEBVTT\n\n00:00:00.500 --> 00:00:03.200\n안녕하세요.\n\n00:00:03.600 --> 00:00:07.900\n반갑습니다.\n');
  });

  it('verbose_json: OpenAI\'s segment fields, words when asked, the language by name', () => {
    const body = formatResult(result, request({ response_format: 'verbose_json', 'timestamp_granularities[]': 'word,segment' })).body as Record<string, unknown>;
    assert.deepEqual(Object.keys(body), ['task', 'language', 'duration', 'text', 'segments', 'words', 'usage']);
    assert.equal(body.language, 'korean');
    assert.equal(body.duration, 7.9);
    assert.deepEqual((body.segments as unknown[])[0], {
      id: 0, seek: 0, start: 0.5, end: 3.2, text: '안녕하세요.', tokens: [50364, 1, 2, 50500], temperature: 0,
      avg_logprob: -0.234568, compression_ratio: 0.9876, no_speech_prob: 0.012346,
    });
    assert.equal((body.segments as Array<{ id: number; temperature: number }>)[1].id, 1);
    assert.deepEqual(body.words, [
      { word: '안녕하세요.', start: 0.5, end: 3.1 }, { word: '반갑', start: 3.6, end: 5 }, { word: '습니다.', start: 5, end: 7.5 },
    ]);
    const plain = formatResult(result, request({ response_format: 'verbose_json' })).body as Record<string, unknown>;
    assert.ok('segments' in plain && !('words' in plain));
    const translated = formatResult({ ...result, task: 'translate' }, request({ response_format: 'verbose_json' }, 'translate')).body as Record<string, unknown>;
    assert.deepEqual([translated.task, translated.language, 'usage' in translated], ['translate', 'english', false]);
  });

  it('streaming events add up to the text; errors as an error event', () => {
    assert.equal(joinTexts([' a b ', '', 'c']), 'a b c');
    assert.equal(deltaEvent('a b'), 'data: {"type":"transcript.text.delta","delta":"a b"}\n\n');
    assert.equal(doneEvent('a b c'), 'data: {"type":"transcript.text.done","text":"a b c"}\n\n');
    assert.equal(sseEvent({ error: { message: 'x' } }, 'error'), 'event: error\ndata: {"error":{"message":"x"}}\n\n');
  });
});

describe('OpenAI errors', () => {
  const limits = { maxBytes: 100, maxSeconds: 60 };
  const answer = (err: unknown) => {
    const e = toOpenAIError(err, limits);
    return [e.status, e.body().error.type, e.body().error.code, e.body().error.param];
  };

  it('the client\'s mistakes are 4xx in OpenAI\'s shape, the server\'s 5xx', () => {
    assert.deepEqual(answer(new MediaError('undecodable', 'x')), [400, 'invalid_request_error', 'invalid_file_format', 'file']);
    assert.deepEqual(answer(new MediaError('no-audio', 'x')), [400, 'invalid_request_error', 'invalid_file_format', 'file']);
    assert.deepEqual(answer(new MediaError('empty', 'x')), [400, 'invalid_request_error', 'invalid_file_format', 'file']);
    assert.deepEqual(answer(new MediaError('too-long', 'x')), [400, 'invalid_request_error', 'audio_too_long', 'file']);
    assert.deepEqual(answer(new UnsupportedLanguageError('x')), [400, 'invalid_request_error', 'invalid_value', 'language']);
    assert.deepEqual(answer(Object.assign(new Error('x'), { code: 'FST_REQ_FILE_TOO_LARGE' })), [413, 'invalid_request_error', 'file_too_large', 'file']);
    assert.deepEqual(answer(Object.assign(new Error('x'), { code: 'FST_PARTS_LIMIT' })), [400, 'invalid_request_error', 'invalid_value', null]);
    assert.deepEqual(answer(Object.assign(new Error('x'), { code: 'FST_INVALID_MULTIPART_CONTENT_TYPE' })), [400, 'invalid_request_error', 'invalid_content_type', null]);
    assert.deepEqual(answer(new EngineBusyError()), [503, 'server_error', 'server_busy', null]);
    assert.equal(toOpenAIError(new EngineBusyError(), limits).retryAfterSeconds, 1);
    assert.deepEqual(answer(new EngineFailedError('boom')), [500, 'server_error', null, null]);
    assert.deepEqual(answer(new TypeError('a bug')), [500, 'server_error', null, null]);
    const own = new OpenAIError(429, 'slow down', { type: 'requests', code: 'rate_limit_exceeded', retryAfterSeconds: 7 });
    assert.equal(toOpenAIError(own, limits), own);
    assert.deepEqual(own.body(), { error: { message: 'slow down', type: 'requests', param: null, code: 'rate_limit_exceeded' } });
  });
});
