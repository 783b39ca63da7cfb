/**
 * The OpenAI-compatible API through OpenAI's own Node SDK (npm `openai`), against the real
 * server: every response format, word timestamps, streaming, a file longer than one window,
 * translations, language identification, the models list, another installed model, and the
 * errors the SDK raises for each kind of bad request. Requests the SDK will not send (no file,
 * not multipart, oversized) go through fetch.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { createReadStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import OpenAI, { toFile } from 'openai';
import { parseSync } from 'subtitle';
import { registerSecrets } from '../../helpers/test-logs.js';
import { testdataDir } from '../../helpers/media-fixtures.js';
import { KEY, MAX_BYTES, OTHER_MODEL, startOpenAIStage, type OpenAIStage } from './stage.js';

const { WebVTTParser } = createRequire(import.meta.url)('webvtt-parser') as {
  WebVTTParser: new () => { parse(input: string, mode: string): { errors: { message: string }[]; cues: { startTime: number; endTime: number; text: string }[] } };
};

const JFK = join(testdataDir(), 'en/jfk.flac');
/** 35 s of Steve Jobs: longer than one window. */
const JOBS = join(testdataDir(), 'en/jobs_dots.flac');
/** Korean, 5 s: "심폐소생술 자격증 취득을 원하시면 인터넷으로 신청해주세요." */
const KOREAN = join(testdataDir(), 'ko/etts_neb00001.flac');
const JFK_TEXT = /ask not what your country can do for you,? ask what you can do for your country/i;
const WRONG_KEY = 'openai-sdk-test-wrong-secret';

let stage: OpenAIStage;
let client: OpenAI;

before(async () => {
  stage = await startOpenAIStage('openai-node-sdk');
  client = new OpenAI({ apiKey: KEY, baseURL: stage.baseURL, maxRetries: 0, timeout: 300_000 });
  registerSecrets('presented', WRONG_KEY);
});
after(async () => {
  await stage?.close();
});

/** What the SDK threw: status, error code, param. */
async function apiError(call: Promise<unknown>): Promise<[number | undefined, string | null | undefined, string | null | undefined, string]> {
  try {
    await call;
  } catch (err) {
    assert.ok(err instanceof OpenAI.APIError, String(err));
    return [err.status, err.code, err.param, err.constructor.name];
  }
  assert.fail('the request succeeded');
}

const words = (s: string): string => s.toLowerCase().replace(/[^\p{L}\p{N}' ]/gu, ' ').replace(/\s+/g, ' ').trim();

describe('OpenAI Node SDK: transcriptions', () => {
  it('json (the default), with whisper-1 and with the installed model\'s own name', async () => {
    const r = await client.audio.transcriptions.create({ file: createReadStream(JFK), model: 'whisper-1' });
    assert.match(r.text, JFK_TEXT);
    assert.deepEqual(r.usage, { type: 'duration', seconds: 11 });
    const named = await client.audio.transcriptions.create({ file: createReadStream(JFK), model: 'whisper-base', language: 'en' });
    assert.equal(named.text, r.text);
  });

  it('text, srt and vtt come back as strings; the subtitles parse with well-kept parsers', async () => {
    const text = await client.audio.transcriptions.create({ file: createReadStream(JFK), model: 'whisper-1', response_format: 'text' });
    assert.equal(typeof text, 'string');
    assert.match(text, JFK_TEXT);
    const srt = await client.audio.transcriptions.create({ file: createReadStream(JOBS), model: 'whisper-1', response_format: 'srt' });
    const cues = parseSync(srt).filter((n) => n.type === 'cue').map((n) => n.data as { start: number; end: number; text: string });
    assert.ok(cues.length >= 3, srt);
    assert.ok(cues.at(-1)!.end > 30_000, 'cues cover the audio past the first window');
    for (let i = 1; i < cues.length; i++) assert.ok(cues[i].start >= cues[i - 1].start && cues[i].start < cues[i].end, JSON.stringify(cues[i]));
    assert.match(words(cues.map((c) => c.text).join(' ')), /connect the dots/);
    const vtt = await client.audio.transcriptions.create({ file: createReadStream(JFK), model: 'whisper-1', response_format: 'vtt' });
    const parsed = new WebVTTParser().parse(vtt, 'metadata');
    assert.deepEqual(parsed.errors.map((e) => e.message), []);
    assert.ok(parsed.cues.length >= 1);
    assert.match(parsed.cues.map((c) => c.text).join(' '), JFK_TEXT);
  });

  it('verbose_json: language, duration, segments with OpenAI\'s fields, words on request', async () => {
    const r = await client.audio.transcriptions.create({
      file: createReadStream(JFK), model: 'whisper-1', response_format: 'verbose_json', timestamp_granularities: ['word', 'segment'],
    });
    assert.equal(r.language, 'english');
    assert.ok(Math.abs(r.duration - 11) < 0.05, String(r.duration));
    assert.match(r.text, JFK_TEXT);
    assert.ok(r.segments !== undefined && r.segments.length >= 1);
    for (const [i, s] of r.segments.entries()) {
      assert.equal(s.id, i);
      for (const k of ['seek', 'start', 'end', 'temperature', 'avg_logprob', 'compression_ratio', 'no_speech_prob'] as const) {
        assert.equal(typeof s[k], 'number', `${k} of ${JSON.stringify(s)}`);
      }
      assert.ok(s.tokens.length > 0 && s.tokens.every((t) => Number.isInteger(t)));
      assert.ok(s.start < s.end && s.end <= 11.01);
      assert.ok(s.no_speech_prob >= 0 && s.no_speech_prob <= 1 && s.avg_logprob <= 0);
    }
    assert.ok(r.words !== undefined && r.words.length >= 20, JSON.stringify(r.words));
    let last = 0;
    for (const w of r.words) {
      assert.ok(w.word.trim() === w.word && w.word !== '');
      assert.ok(w.start >= last - 0.001 && w.end >= w.start && w.end <= 11.01, JSON.stringify(w));
      last = w.start;
    }
    assert.equal(words(r.words.map((w) => w.word).join(' ')), words(r.text));
    const americans = r.words.find((w) => /americans/i.test(w.word));
    assert.ok(americans !== undefined && americans.start > 1 && americans.start < 2.2, JSON.stringify(americans));
    // Words only: no segments.
    const only = await client.audio.transcriptions.create({
      file: createReadStream(JFK), model: 'whisper-1', response_format: 'verbose_json', timestamp_granularities: ['word'],
    });
    assert.equal(only.segments, undefined);
    assert.ok((only.words ?? []).length >= 20);
  });

  it('a file longer than one window: segments and words over the whole of it, on its time axis', async () => {
    const r = await client.audio.transcriptions.create({
      file: createReadStream(JOBS), model: 'whisper-1', language: 'en', response_format: 'verbose_json', timestamp_granularities: ['word', 'segment'],
    });
    assert.ok(Math.abs(r.duration - 35.33) < 0.1, String(r.duration));
    assert.match(words(r.text), /connect the dots looking forward.*make all the difference/);
    const segments = r.segments ?? [];
    assert.ok(segments.at(-1)!.end > 30 && segments.at(-1)!.end <= 35.4, JSON.stringify(segments.at(-1)));
    assert.ok(segments.at(-1)!.seek > 2000, 'the last segment\'s window starts well into the audio');
    for (let i = 1; i < segments.length; i++) assert.ok(segments[i].start >= segments[i - 1].start);
    const lastWord = r.words!.at(-1)!;
    assert.ok(lastWord.end > 30, JSON.stringify(lastWord));
  });

  it('stream=true: text deltas as each part is ready, then the whole text; the deltas add up to it', async () => {
    for (const file of [JFK, JOBS]) {
      const stream = await client.audio.transcriptions.create({ file: createReadStream(file), model: 'whisper-1', language: 'en', stream: true });
      const events: OpenAI.Audio.TranscriptionStreamEvent[] = [];
      for await (const event of stream) events.push(event);
      const done = events.at(-1);
      assert.ok(done?.type === 'transcript.text.done', JSON.stringify(events));
      const deltas = events.slice(0, -1);
      assert.ok(deltas.length >= (file === JOBS ? 2 : 1), `${file}: ${deltas.length} deltas`);
      assert.ok(deltas.every((e) => e.type === 'transcript.text.delta'));
      assert.equal(deltas.map((e) => (e.type === 'transcript.text.delta' ? e.delta : '')).join(''), done.text);
      const plain = await client.audio.transcriptions.create({ file: createReadStream(file), model: 'whisper-1', language: 'en' });
      assert.equal(done.text, plain.text);
    }
  });

  it('no language: identified (Korean), and prompt and temperature are taken', async () => {
    const r = await client.audio.transcriptions.create({ file: createReadStream(KOREAN), model: 'whisper-1', response_format: 'verbose_json' });
    assert.equal(r.language, 'korean');
    assert.match(r.text, /심폐/);
    const prompted = await client.audio.transcriptions.create({
      file: createReadStream(KOREAN), model: 'whisper-1', language: 'ko', prompt: '심폐소생술 자격증', temperature: 0.2,
    });
    assert.match(prompted.text, /\p{Script=Hangul}/u);
  });

  it('another installed model loads on request', async () => {
    const r = await client.audio.transcriptions.create({ file: await toFile(readFileSync(JFK), 'jfk.flac'), model: OTHER_MODEL });
    assert.match(r.text, JFK_TEXT);
  });
});

describe('OpenAI Node SDK: translations', () => {
  it('Korean speech to English text, in json and verbose_json', async () => {
    const r = await client.audio.translations.create({ file: createReadStream(KOREAN), model: 'whisper-1' });
    assert.doesNotMatch(r.text, /\p{Script=Hangul}/u, r.text);
    assert.match(r.text, /[a-z]{3,} [a-z]{2,}/i, r.text);
    // (The SDK's overloads for translations do not narrow on response_format.)
    const verbose = (await client.audio.translations.create({
      file: createReadStream(KOREAN), model: 'whisper-1', response_format: 'verbose_json',
    })) as unknown as OpenAI.Audio.TranslationVerbose;
    assert.equal(verbose.language, 'english');
    assert.doesNotMatch(verbose.text, /\p{Script=Hangul}/u, verbose.text);
    assert.ok((verbose.segments ?? []).length >= 1);
    const srt = (await client.audio.translations.create({ file: createReadStream(KOREAN), model: 'whisper-1', response_format: 'srt' })) as unknown as string;
    assert.match(srt, /^1\n00:00:0\d,\d{3} --> /);
  });
});

describe('OpenAI Node SDK: models', () => {
  it('lists whisper-1 and every installed Whisper model; retrieves one; an unknown one is 404', async () => {
    const ids: string[] = [];
    for await (const m of client.models.list()) {
      ids.push(m.id);
      assert.equal(m.object, 'model');
      assert.equal(typeof m.created, 'number');
      assert.equal(m.owned_by, 'sori');
    }
    assert.deepEqual(ids, ['whisper-1', 'whisper-base', OTHER_MODEL]);
    assert.equal((await client.models.retrieve('whisper-base')).id, 'whisper-base');
    assert.deepEqual(await apiError(client.models.retrieve('gpt-4o')), [404, 'model_not_found', 'model', 'NotFoundError']);
  });
});

describe('OpenAI Node SDK: errors', () => {
  it('each bad request gets its 4xx in OpenAI\'s shape, never a 500', async () => {
    const jfk = () => createReadStream(JFK);
    const wrong = new OpenAI({ apiKey: WRONG_KEY, baseURL: stage.baseURL, maxRetries: 0 });
    assert.deepEqual(await apiError(wrong.audio.transcriptions.create({ file: jfk(), model: 'whisper-1' })), [401, 'invalid_api_key', null, 'AuthenticationError']);
    assert.deepEqual(await apiError(wrong.models.list()), [401, 'invalid_api_key', null, 'AuthenticationError']);
    assert.deepEqual(await apiError(client.audio.transcriptions.create({ file: jfk(), model: 'whisper-9' })), [404, 'model_not_found', 'model', 'NotFoundError']);
    assert.deepEqual(
      await apiError(client.audio.transcriptions.create({ file: jfk(), model: 'whisper-1', response_format: 'diarized_json' })),
      [400, 'invalid_value', 'response_format', 'BadRequestError'],
    );
    assert.deepEqual(await apiError(client.audio.transcriptions.create({ file: jfk(), model: 'whisper-1', language: 'klingon' })), [400, 'invalid_value', 'language', 'BadRequestError']);
    assert.deepEqual(await apiError(client.audio.transcriptions.create({ file: jfk(), model: 'whisper-1', temperature: 3 })), [400, 'invalid_value', 'temperature', 'BadRequestError']);
    assert.deepEqual(
      await apiError(client.audio.transcriptions.create({ file: jfk(), model: 'whisper-1', timestamp_granularities: ['word'] })),
      [400, 'invalid_value', 'timestamp_granularities', 'BadRequestError'],
    );
    assert.deepEqual(
      await apiError(client.audio.transcriptions.create({ file: await toFile(Buffer.from('not audio at all, just text\n'.repeat(50)), 'notes.mp3'), model: 'whisper-1' })),
      [400, 'invalid_file_format', 'file', 'BadRequestError'],
    );
    assert.deepEqual(
      await apiError(client.audio.transcriptions.create({ file: await toFile(Buffer.alloc(0), 'empty.wav'), model: 'whisper-1' })),
      [400, 'invalid_file_format', 'file', 'BadRequestError'],
    );
    // Over openai.maxBytes: refused by its Content-Length (nothing read), or at the byte that crosses it.
    for (const size of [MAX_BYTES * 3, MAX_BYTES + 100_000]) {
      assert.deepEqual(
        await apiError(client.audio.transcriptions.create({ file: await toFile(Buffer.alloc(size, 7), 'big.wav'), model: 'whisper-1' })),
        [413, 'file_too_large', 'file', 'APIError'],
        `${size} bytes`,
      );
    }
  });

  it('requests the SDK would not send: no file, no model, not multipart, an unknown path', async () => {
    const post = async (body: BodyInit, headers: Record<string, string> = {}, path = '/audio/transcriptions') => {
      const res = await fetch(`${stage.baseURL}${path}`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, ...headers }, body });
      const json = (await res.json()) as { error: { code: string | null; param: string | null; type: string; message: string } };
      assert.deepEqual(Object.keys(json.error).sort(), ['code', 'message', 'param', 'type']);
      return [res.status, json.error.code, json.error.param];
    };
    const form = (fields: Record<string, string>, file?: Blob) => {
      const f = new FormData();
      for (const [k, v] of Object.entries(fields)) f.append(k, v);
      if (file !== undefined) f.append('file', file, 'jfk.flac');
      return f;
    };
    const audio = new Blob([readFileSync(JFK)]);
    assert.deepEqual(await post(form({ model: 'whisper-1' })), [400, 'missing_required_parameter', 'file']);
    assert.deepEqual(await post(form({}, audio)), [400, 'missing_required_parameter', 'model']);
    assert.deepEqual(await post(JSON.stringify({ model: 'whisper-1' }), { 'content-type': 'application/json' }), [400, 'invalid_content_type', null]);
    assert.deepEqual(await post(readFileSync(JFK), { 'content-type': 'application/octet-stream' }), [400, 'invalid_content_type', null]);
    assert.deepEqual(await post('--x\r\nbroken', { 'content-type': 'multipart/form-data; boundary=x' }), [400, 'invalid_value', null]);
    assert.deepEqual(await post(form({ model: 'whisper-1', stream: 'true', response_format: 'vtt' }, audio)), [400, 'invalid_value', 'stream']);
    assert.deepEqual(await post(form({ model: 'whisper-1' }, audio), {}, '/audio/speech'), [404, null, null]);
    const res = await fetch(`${stage.baseURL}/audio/transcriptions`, { method: 'POST', body: form({ model: 'whisper-1' }, audio) });
    assert.equal(res.status, 401);
    // Still healthy, and nothing above was logged as a server error.
    assert.equal((await fetch(`${stage.server.baseUrl}/healthz`)).status, 200);
    assert.doesNotMatch(readFileSync(stage.server.logPath, 'utf8'), /"level":50/);
  });
});
