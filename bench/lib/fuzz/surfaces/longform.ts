/**
 * `/recognizer/*` (CLOVA long-form): multipart uploads (broken boundaries, thousands of parts,
 * huge part headers, nested multipart, duplicate and broken `params`), the JSON routes (giant,
 * deep, wrong types, invalid UTF-8) and token lookups. Documented answers: the long-form error
 * table (docs/api/longform.md), 200 for what is accepted, and HTTP-level refusals.
 */
import fc from 'fast-check';
import { exchange, requestBytes } from '../raw-http.js';
import { httpOutcome, type FuzzCase, type FuzzTarget, type Outcome, type Surface } from '../harness.js';
import { multipart, type Part } from '../multipart.js';
import { anyJson, invalidUtf8, jsonishText, oddString, pctEncode } from '../arbitraries.js';
import { httpLevel } from './short.js';

const KEY_HEADER = 'X-CLOVASPEECH-API-KEY';
const CODES: Record<string, number> = {
  ERROR_INVALID_SECRET: 401, ERROR_PARAMS_FORMAT_INVALID: 400, ERROR_REQUEST_PARAMETER: 400, ERROR_AUDIO_EMPTY: 400,
  ERROR_AUDIO_CONVERSION: 400, ERROR_TOKEN_INVALID: 404, ERROR_DATA_NOT_FOUND: 404, ERROR_TOO_MANY_JOBS: 429,
  ERROR_SERVER_BUSY: 503, ERROR_GATEWAY_TIMEOUT: 504, ERROR_EXTERNAL_ERROR: 502, ERROR_DATA_CONFLICT: 409,
  ERROR_TOO_MANY_AUTH_FAILURES: 429,
};

function documented(status: number, code: string | undefined): boolean {
  if (status === 200) return true;
  if (code !== undefined && CODES[code] !== undefined) return CODES[code] === status || (status === 413 && code === 'ERROR_REQUEST_PARAMETER');
  return httpLevel(status, code);
}

const prefix = fc.constantFrom('', '', '', '/external/v1/12345/abcdef', '/external/v1/%00/..');


function post(family: string, path: string, contentType: string | undefined, body: Uint8Array, what: string, opts: { key?: string; clientCut?: boolean } = {}): FuzzCase {
  return {
    family,
    describe: `POST ${path.slice(0, 160)} (${contentType?.slice(0, 80) ?? 'no content type'}) ${what}, ${body.length} B`,
    run: async (t: FuzzTarget): Promise<Outcome> => {
      const headers: Array<[string, string]> = [['Host', 'x'], ['Connection', 'close'], [KEY_HEADER, opts.key ?? t.key], ['Content-Length', String(body.length)]];
      if (contentType !== undefined) headers.push(['Content-Type', contentType]);
      const ex = await exchange(t, [requestBytes('POST', path, headers, body)], { timeoutMs: 120_000, halfClose: opts.clientCut === true });
      if (opts.clientCut && ex.kind === 'closed') return { label: 'closed (client cut its body)', documented: true };
      return httpOutcome(ex, documented);
    },
  };
}

/** A valid-looking value nine times in ten, anything else otherwise: deep paths need mostly valid params. */
function usually<T>(valid: fc.Arbitrary<T>): fc.Arbitrary<unknown> {
  return fc.oneof({ weight: 9, arbitrary: valid }, { weight: 1, arbitrary: fc.oneof(oddString, anyJson) });
}

const paramsObject = fc.record(
  {
    language: usually(fc.constantFrom('ko-KR', 'en-US', 'ja', 'zh-cn', 'enko', 'ko-KR ')),
    completion: usually(fc.constantFrom('async', 'async', 'async', 'sync')),
    wordAlignment: usually(fc.boolean()),
    fullText: usually(fc.boolean()),
    diarization: usually(fc.record({ enable: usually(fc.boolean()), speakerCountMin: usually(fc.integer({ min: -3, max: 40 })), speakerCountMax: usually(fc.integer({ min: -3, max: 40 })) }, { requiredKeys: [] })),
    boostings: usually(fc.array(fc.record({ words: usually(fc.constantFrom('Sori,CLOVA', '', ',,,', '소리')) }), { maxLength: 3 })),
    forbiddens: usually(fc.constantFrom('bad,worse', '')),
    callback: fc.oneof(fc.constantFrom('http://127.0.0.1:9/cb', 'http://10.0.0.1/cb', 'http://[::1]/cb', 'file:///etc/passwd', 'http://nonexistent.invalid/cb', 'javascript:alert(1)'), oddString),
    sed: usually(fc.record({ enable: fc.boolean() })),
    noiseFiltering: usually(fc.boolean()),
    format: usually(fc.constantFrom('JSON', 'SRT', 'SMI', 'VTT')),
    resultToObs: usually(fc.boolean()),
    userdata: anyJson,
    useDomainBoostings: usually(fc.boolean()),
  },
  { requiredKeys: [] },
);

const paramsText = fc.oneof({ weight: 3, arbitrary: paramsObject.map((o) => JSON.stringify(o)) }, { weight: 1, arbitrary: jsonishText });

/** Media bytes for uploads: mostly a few bytes (the request path is under test), sometimes the real clip. */
function mediaBytes(clip: Uint8Array): fc.Arbitrary<{ what: string; bytes: Uint8Array }> {
  return fc.oneof(
    { weight: 5, arbitrary: fc.uint8Array({ maxLength: 256 }).map((bytes) => ({ what: `${bytes.length} random media bytes`, bytes })) },
    { weight: 1, arbitrary: fc.constant({ what: 'empty media', bytes: new Uint8Array(0) }) },
    { weight: 1, arbitrary: fc.nat({ max: clip.length }).map((n) => ({ what: `clip cut at ${n}`, bytes: clip.subarray(0, n) })) },
    { weight: 1, arbitrary: fc.constant({ what: 'the clip', bytes: clip }) },
  );
}

function uploads(clip: Uint8Array): fc.Arbitrary<FuzzCase> {
  const partHeaders = (name: string, filename: string | null, type: string | null): string[] => [
    `Content-Disposition: form-data; name="${name}"${filename === null ? '' : `; filename="${filename}"`}`,
    ...(type === null ? [] : [`Content-Type: ${type}`]),
  ];
  const wellFormed = fc
    .record({
      pre: prefix,
      params: paramsText,
      paramsType: fc.constantFrom(null, 'application/json', 'text/plain', 'application/octet-stream'),
      paramsAsFile: fc.boolean(),
      media: mediaBytes(clip),
      order: fc.constantFrom('media-first', 'params-first', 'no-params', 'no-media', 'params-twice', 'media-twice'),
      mediaName: fc.constantFrom('media', 'media', 'MEDIA', 'file', ''),
      filename: fc.oneof(fc.constant('a.wav'), fc.constant(null), oddString.map((s) => s.replace(/["\r\n]/g, '').slice(0, 300))),
    })
    .map(({ pre, params, paramsType, paramsAsFile, media, order, mediaName, filename }) => {
      const p: Part = { headers: partHeaders('params', paramsAsFile ? 'params.json' : null, paramsType), body: Buffer.from(params, 'utf8') };
      const m: Part = { headers: partHeaders(mediaName, filename, 'application/octet-stream'), body: media.bytes };
      const parts = order === 'media-first' ? [m, p] : order === 'params-first' ? [p, m] : order === 'no-params' ? [m] : order === 'no-media' ? [p] : order === 'params-twice' ? [p, m, p] : [p, m, m];
      return post('upload: parts', `${pre}/recognizer/upload`, 'multipart/form-data; boundary=sori-fuzz', multipart('sori-fuzz', parts, true), `${order}, ${media.what}, params ${params.slice(0, 60)}`);
    });
  const broken = fc
    .record({
      params: paramsText,
      how: fc.constantFrom('no closing boundary', 'cut mid-part', 'boundary mismatch', 'no boundary param', 'quoted boundary', 'long boundary', 'empty boundary', 'no part headers', 'bare LF', 'preamble and epilogue'),
      cutAt: fc.nat({ max: 400 }),
    })
    .map(({ params, how, cutAt }) => {
      const parts: Part[] = [
        { headers: partHeaders('params', null, 'application/json'), body: Buffer.from(params, 'utf8') },
        { headers: partHeaders('media', 'a.wav', 'audio/wav'), body: new Uint8Array(64).fill(7) },
      ];
      let type = 'multipart/form-data; boundary=b0';
      let body = multipart('b0', parts, true);
      if (how === 'no closing boundary') body = multipart('b0', parts, false);
      else if (how === 'cut mid-part') body = body.subarray(0, Math.min(cutAt, body.length));
      else if (how === 'boundary mismatch') type = 'multipart/form-data; boundary=other';
      else if (how === 'no boundary param') type = 'multipart/form-data';
      else if (how === 'quoted boundary') type = 'multipart/form-data; boundary="b0"';
      else if (how === 'long boundary') {
        const b = 'b'.repeat(200);
        type = `multipart/form-data; boundary=${b}`;
        body = multipart(b, parts, true);
      } else if (how === 'empty boundary') {
        type = 'multipart/form-data; boundary=';
        body = multipart('', parts, true);
      } else if (how === 'no part headers') body = Buffer.from(`--b0\r\n\r\n${params}\r\n--b0--\r\n`, 'utf8');
      else if (how === 'bare LF') body = Buffer.from(Buffer.from(body).toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
      else body = Buffer.concat([Buffer.from('preamble\r\n'), body, Buffer.from('epilogue')]);
      return post('upload: broken multipart', '/recognizer/upload', type, body, how);
    });
  const heavy = fc.oneof(
    fc.integer({ min: 20, max: 5000 }).map((n) =>
      post('upload: many parts', '/recognizer/upload', 'multipart/form-data; boundary=b1', multipart('b1', Array.from({ length: n }, (_, i) => ({ headers: partHeaders(`f${i}`, null, null), body: Buffer.from('x') })), true), `${n} parts`)),
    fc.constantFrom(10_000, 100_000, 1_000_000).map((n) =>
      post('upload: huge part header', '/recognizer/upload', 'multipart/form-data; boundary=b2', multipart('b2', [{ headers: [...partHeaders('media', 'a.wav', null), `X-Big: ${'a'.repeat(n)}`], body: new Uint8Array(16) }], true), `${n}-byte part header`)),
    fc.constant(
      post('upload: nested multipart', '/recognizer/upload', 'multipart/form-data; boundary=outer', multipart('outer', [
        { headers: ['Content-Disposition: form-data; name="media"', 'Content-Type: multipart/mixed; boundary=inner'], body: multipart('inner', [{ headers: partHeaders('media', 'a.wav', null), body: new Uint8Array(32) }], true) },
        { headers: partHeaders('params', null, 'application/json'), body: Buffer.from('{"completion":"async"}') },
      ], true), 'multipart inside the media part'),
    ),
    fc.nat({ max: 300_000 }).map((n) =>
      post('upload: giant params', '/recognizer/upload', 'multipart/form-data; boundary=b3', multipart('b3', [{ headers: partHeaders('params', null, 'application/json'), body: Buffer.from(`{"language":"ko-KR","x":"${'y'.repeat(n)}"}`) }, { headers: partHeaders('media', 'a.wav', null), body: new Uint8Array(16) }], true), `${n}-byte params`)),
    invalidUtf8.map((bad) => post('upload: invalid UTF-8 params', '/recognizer/upload', 'multipart/form-data; boundary=b4', multipart('b4', [{ headers: partHeaders('params', null, 'application/json'), body: Buffer.concat([Buffer.from('{"language":"'), bad, Buffer.from('"}')]) }, { headers: partHeaders('media', 'a.wav', null), body: new Uint8Array(16) }], true), 'invalid UTF-8 inside params')),
  );
  return fc.oneof({ weight: 4, arbitrary: wellFormed }, { weight: 3, arbitrary: broken }, { weight: 2, arbitrary: heavy });
}

const jsonRoutes: fc.Arbitrary<FuzzCase> = fc
  .record({
    pre: prefix,
    route: fc.constantFrom('url', 'object-storage'),
    body: fc.oneof(
      { weight: 3, arbitrary: fc.tuple(paramsObject, fc.oneof(fc.constantFrom('http://127.0.0.1:1/a.wav', 'http://169.254.169.254/latest/meta-data', 'http://[::ffff:127.0.0.1]/a', 'http://0x7f.1/a', 'https://nonexistent.invalid/a.mp3', 'ftp://x/a', 'file:///etc/passwd', 'http://', 'http://a b/'), oddString, anyJson)).map(([o, url]) => JSON.stringify({ ...o, completion: 'async', url, dataKey: url })) },
      { weight: 2, arbitrary: jsonishText },
    ),
    type: fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'application/octet-stream', undefined),
    invalid: fc.option(invalidUtf8, { freq: 5, nil: undefined }),
  })
  .map(({ pre, route, body, type, invalid }) => {
    const bytes = invalid === undefined ? Buffer.from(body, 'utf8') : Buffer.concat([Buffer.from(body.slice(0, 20), 'utf8'), invalid]);
    return post(`json: /recognizer/${route}`, `${pre}/recognizer/${route}`, type, bytes, `body ${JSON.stringify(body.slice(0, 80))}${invalid === undefined ? '' : ' + invalid UTF-8'}`);
  });

const lookups: fc.Arbitrary<FuzzCase> = fc
  .record({ pre: prefix, token: fc.oneof(oddString.map(pctEncode), fc.constantFrom('..%2F..%2Fetc%2Fpasswd', '%2e%2e', '00000000-0000-0000-0000-000000000000', "' OR 1=1 --", '%00'), fc.uuid()), deliveries: fc.boolean(), key: fc.option(oddString, { freq: 4, nil: undefined }) })
  .map(({ pre, token, deliveries, key }): FuzzCase => {
    const path = `${pre}/recognizer/${token}${deliveries ? '/deliveries' : ''}`;
    return {
      family: 'lookup: GET /recognizer/{token}',
      describe: `GET ${path.slice(0, 200)}`,
      run: async (t) => {
        const headers: Array<[string, string]> = [['Host', 'x'], ['Connection', 'close'], [KEY_HEADER, key === undefined ? t.key : key.replace(/[\r\n]/g, '')]];
        const ex = await exchange(t, [requestBytes('GET', path, headers)], { timeoutMs: 30_000 });
        // An empty token is not a lookup at all: no route, a plain 404.
        return httpOutcome(ex, (status, code) => documented(status, code) || (token === '' && status === 404));
      },
    };
  });

export function longformSurface(clip: Uint8Array): Surface {
  return {
    name: 'long-form /recognizer/*',
    cases: fc.oneof({ weight: 5, arbitrary: uploads(clip) }, { weight: 3, arbitrary: jsonRoutes }, { weight: 2, arbitrary: lookups }),
  };
}
