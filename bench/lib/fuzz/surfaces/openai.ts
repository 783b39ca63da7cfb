/**
 * `/v1/*` (the OpenAI-compatible API): multipart forms with every field wrong in every way
 * (types, ranges, duplicates, unknown fields, parts in any order, the file missing, empty,
 * random, cut or real), broken multipart, heavy bodies, odd secrets, model lookups and paths
 * under /v1 no route serves. Documented answers: the error table of docs/api/openai.md, 200 for
 * what is accepted (JSON, text, subtitles or events), and HTTP-level refusals.
 */
import fc from 'fast-check';
import { exchange, requestBytes } from '../raw-http.js';
import { httpOutcome, type FuzzCase, type FuzzTarget, type Outcome, type Surface } from '../harness.js';
import { multipart, type Part } from '../multipart.js';
import { invalidUtf8, oddString, pctEncode } from '../arbitraries.js';
import { httpLevel } from './short.js';

const CODES: Record<string, number> = {
  invalid_content_type: 400, missing_required_parameter: 400, invalid_value: 400, invalid_file_format: 400, audio_too_long: 400,
  invalid_api_key: 401, model_not_found: 404, file_too_large: 413, rate_limit_exceeded: 429, server_busy: 503,
};

function documented(status: number, code: string | undefined): boolean {
  if (status === 200) return true;
  if (code !== undefined && CODES[code] !== undefined) return CODES[code] === status;
  // OpenAI's answer to a path under /v1 that no route serves: 404 with a null code.
  return httpLevel(status, code) || (code === undefined && status === 404);
}


const field = (name: string, value: string | Uint8Array): Part => ({
  headers: [`Content-Disposition: form-data; name="${name}"`],
  body: typeof value === 'string' ? Buffer.from(value, 'utf8') : value,
});

function send(family: string, method: string, path: string, contentType: string | undefined, body: Uint8Array | undefined, what: string, auth?: string): FuzzCase {
  return {
    family,
    describe: `${method} ${path.slice(0, 160)} (${contentType?.slice(0, 80) ?? 'no content type'}) ${what}${body === undefined ? '' : `, ${body.length} B`}`,
    run: async (t: FuzzTarget): Promise<Outcome> => {
      const headers: Array<[string, string]> = [['Host', 'x'], ['Connection', 'close'], ['Authorization', auth ?? `Bearer ${t.key}`]];
      if (body !== undefined) headers.push(['Content-Length', String(body.length)]);
      if (contentType !== undefined) headers.push(['Content-Type', contentType]);
      const ex = await exchange(t, [requestBytes(method, path, headers, body)], { timeoutMs: 120_000 });
      return httpOutcome(ex, documented);
    },
  };
}

/** A valid-looking value most of the time, anything else otherwise. */
function usually(valid: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.oneof({ weight: 6, arbitrary: valid }, { weight: 1, arbitrary: oddString });
}

const fields = fc.record(
  {
    model: usually(fc.constantFrom('whisper-1', 'whisper-1', 'whisper-base', 'whisper-large-v3', 'gpt-4o-transcribe', '../silero-vad', 'silero-vad')),
    language: usually(fc.constantFrom('en', 'ko', 'ja', 'zh', 'EN', 'yue', 'xx', 'english', 'ko-KR', '')),
    prompt: fc.oneof(fc.constantFrom('JFK', '회의록', ''), oddString),
    temperature: usually(fc.constantFrom('0', '0.2', '1', '1.0', '-0', '1.01', '-1', 'NaN', '1e-9', '.5')),
    response_format: usually(fc.constantFrom('json', 'text', 'srt', 'vtt', 'verbose_json', 'diarized_json', 'JSON', '')),
    'timestamp_granularities[]': usually(fc.constantFrom('word', 'segment', 'word,segment', 'sentence', '')),
    stream: usually(fc.constantFrom('true', 'false', 'True', '1', '0', 'yes', '')),
    'include[]': fc.constantFrom('logprobs', 'x'),
    chunking_strategy: fc.constantFrom('auto', '{"type":"server_vad"}', 'x'),
  },
  // The model nearly always (else nearly every form stops at "missing model").
  { requiredKeys: ['model'] },
);

function fileBytes(clip: Uint8Array): fc.Arbitrary<{ what: string; bytes: Uint8Array }> {
  return fc.oneof(
    { weight: 5, arbitrary: fc.uint8Array({ maxLength: 256 }).map((bytes) => ({ what: `${bytes.length} random file bytes`, bytes })) },
    { weight: 1, arbitrary: fc.constant({ what: 'empty file', bytes: new Uint8Array(0) }) },
    { weight: 1, arbitrary: fc.nat({ max: clip.length }).map((n) => ({ what: `clip cut at ${n}`, bytes: clip.subarray(0, n) })) },
    { weight: 1, arbitrary: fc.constant({ what: 'the clip', bytes: clip }) },
  );
}

function forms(clip: Uint8Array): fc.Arbitrary<FuzzCase> {
  const wellFormed = fc
    .record({
      route: fc.constantFrom('transcriptions', 'transcriptions', 'translations'),
      values: fields,
      file: fileBytes(clip),
      order: fc.constantFrom('file-first', 'file-first', 'file-last', 'file-last', 'no-file', 'file-twice', 'fields-twice'),
      fileField: fc.constantFrom('file', 'file', 'file', 'File', 'audio', ''),
      filename: fc.oneof(fc.constant('a.wav'), fc.constant(null), oddString.map((s) => s.replace(/["\r\n]/g, '').slice(0, 300))),
      fileType: fc.constantFrom('audio/flac', 'application/octet-stream', 'text/plain', 'application/json', null),
    })
    .map(({ route, values, file, order, fileField, filename, fileType }) => {
      const f: Part = {
        headers: [`Content-Disposition: form-data; name="${fileField}"${filename === null ? '' : `; filename="${filename}"`}`, ...(fileType === null ? [] : [`Content-Type: ${fileType}`])],
        body: file.bytes,
      };
      const others = Object.entries(values).map(([k, v]) => field(k, v));
      const parts = order === 'file-first' ? [f, ...others] : order === 'file-last' ? [...others, f] : order === 'no-file' ? others
        : order === 'file-twice' ? [f, ...others, f] : [...others, f, ...Object.entries(values).map(([k]) => field(k, 'other'))];
      return send(`form: /v1/audio/${route}`, 'POST', `/v1/audio/${route}`, 'multipart/form-data; boundary=sori-fuzz', multipart('sori-fuzz', parts, true),
        `${order}, ${file.what}, ${JSON.stringify(values).slice(0, 120)}`);
    });
  const broken = fc
    .record({
      how: fc.constantFrom('no closing boundary', 'cut mid-part', 'boundary mismatch', 'no boundary param', 'empty boundary', 'no part headers', 'bare LF', 'not multipart', 'no content type', 'urlencoded'),
      cutAt: fc.nat({ max: 400 }),
    })
    .map(({ how, cutAt }) => {
      const parts = [field('model', 'whisper-1'), { headers: ['Content-Disposition: form-data; name="file"; filename="a.wav"'], body: new Uint8Array(64).fill(7) }];
      let type: string | undefined = 'multipart/form-data; boundary=b0';
      let body: Uint8Array = multipart('b0', parts, true);
      if (how === 'no closing boundary') body = multipart('b0', parts, false);
      else if (how === 'cut mid-part') body = body.subarray(0, Math.min(cutAt, body.length));
      else if (how === 'boundary mismatch') type = 'multipart/form-data; boundary=other';
      else if (how === 'no boundary param') type = 'multipart/form-data';
      else if (how === 'empty boundary') {
        type = 'multipart/form-data; boundary=';
        body = multipart('', parts, true);
      } else if (how === 'no part headers') body = Buffer.from('--b0\r\n\r\nwhisper-1\r\n--b0--\r\n', 'utf8');
      else if (how === 'bare LF') body = Buffer.from(Buffer.from(body).toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
      else if (how === 'not multipart') type = 'application/json';
      else if (how === 'no content type') type = undefined;
      else body = Buffer.from('model=whisper-1&file=abc');
      if (how === 'urlencoded') type = 'application/x-www-form-urlencoded';
      return send('form: broken multipart', 'POST', '/v1/audio/transcriptions', type, body, how);
    });
  const heavy = fc.oneof(
    fc.integer({ min: 20, max: 3000 }).map((n) =>
      send('form: many parts', 'POST', '/v1/audio/transcriptions', 'multipart/form-data; boundary=b1', multipart('b1', Array.from({ length: n }, (_, i) => field(`f${i}`, 'x')), true), `${n} parts`)),
    fc.constantFrom(10_000, 100_000).map((n) =>
      send('form: huge part header', 'POST', '/v1/audio/transcriptions', 'multipart/form-data; boundary=b2', multipart('b2', [{ headers: ['Content-Disposition: form-data; name="file"; filename="a.wav"', `X-Big: ${'a'.repeat(n)}`], body: new Uint8Array(16) }], true), `${n}-byte part header`)),
    fc.nat({ max: 300_000 }).map((n) =>
      send('form: giant field', 'POST', '/v1/audio/transcriptions', 'multipart/form-data; boundary=b3', multipart('b3', [field('model', 'whisper-1'), field('prompt', 'p'.repeat(n)), { headers: ['Content-Disposition: form-data; name="file"; filename="a.wav"'], body: new Uint8Array(16) }], true), `${n}-byte prompt`)),
    invalidUtf8.map((bad) =>
      send('form: invalid UTF-8 fields', 'POST', '/v1/audio/transcriptions', 'multipart/form-data; boundary=b4', multipart('b4', [field('model', bad), field('language', bad), { headers: ['Content-Disposition: form-data; name="file"; filename="a.wav"'], body: new Uint8Array(16) }], true), 'invalid UTF-8 in model and language')),
  );
  return fc.oneof({ weight: 5, arbitrary: wellFormed }, { weight: 3, arbitrary: broken }, { weight: 1, arbitrary: heavy });
}

const lookups: fc.Arbitrary<FuzzCase> = fc
  .record({
    path: fc.oneof(
      fc.oneof(oddString.map(pctEncode), fc.constantFrom('whisper-1', 'whisper-base', '..%2F..%2Fetc%2Fpasswd', '%00', '__proto__', 'constructor')).map((id) => `/v1/models/${id}`),
      fc.constantFrom('/v1/models', '/v1/models/', '/v1/audio/speech', '/v1/chat/completions', '/v1', '/v1/', '/v1/audio/transcriptions?x=1'),
    ),
    method: fc.constantFrom('GET', 'GET', 'GET', 'POST', 'DELETE', 'PUT'),
    auth: fc.option(fc.oneof(oddString.map((s) => `Bearer ${s.replace(/[\r\n]/g, '')}`), fc.constantFrom('Bearer', 'bearer  ', 'Basic abc', '')), { freq: 4, nil: undefined }),
  })
  .map(({ path, method, auth }) => send(`lookup: ${method}`, method, path, undefined, undefined, auth === undefined ? '' : `auth ${JSON.stringify(auth.slice(0, 40))}`, auth));

export function openaiSurface(clip: Uint8Array): Surface {
  return { name: 'OpenAI /v1/*', cases: fc.oneof({ weight: 6, arbitrary: forms(clip) }, { weight: 2, arbitrary: lookups }) };
}
