/**
 * `POST /recog/v1/stt` (CLOVA short recognition): query, headers, bodies and the HTTP framing
 * itself. Documented answers: CLOVA's table (docs/api/short.md), Sori's 503 STT007, and for
 * bytes that are not HTTP at all, Node's parser's bare 4xx.
 */
import fc from 'fast-check';
import { exchange, requestBytes } from '../raw-http.js';
import { httpOutcome, type FuzzCase, type FuzzTarget, type Surface } from '../harness.js';
import { mangled, oddString, pctEncode, queryValue, randomBytes } from '../arbitraries.js';

const PATH = '/recog/v1/stt';
const KEY_HEADER = 'X-CLOVASPEECH-API-KEY';
/** Over the 10 MB the route accepts. */
const OVERSIZE = 10 * 1024 * 1024 + 1;

const DOCUMENTED = new Set(['200 -', '400 400', '400 STT002', '400 STT003', '400 STT004', '400 STT005', '401 401', '413 STT001', '429 STT008', '500 STT006', '503 STT007']);

function clova(status: number, code: string | undefined): boolean {
  return DOCUMENTED.has(`${status} ${code ?? '-'}`);
}
/**
 * HTTP itself refused the request before any route saw it (Node's parser: invalid header
 * bytes, a head over 16 KiB, an unknown Expect): a bare status, no body. What any HTTP server
 * answers, and what CLOVA's own front end would.
 */
export function httpLevel(status: number, code: string | undefined): boolean {
  return code === undefined && [400, 408, 413, 414, 417, 431, 505].includes(status);
}
function clovaOrHttp(status: number, code: string | undefined): boolean {
  return clova(status, code) || httpLevel(status, code);
}
/** Bytes that are not a well-formed request may also miss every route (404) or use a method none takes. */
function framing(status: number, code: string | undefined): boolean {
  return clovaOrHttp(status, code) || (code === undefined && [404, 405].includes(status));
}

interface Req {
  method: string;
  path: string;
  headers: Array<[string, string]>;
  body: Uint8Array | { size: number };
  /** The case sends fewer bytes than it declares: hanging up without an answer is the client's doing. */
  clientCut?: boolean;
}

function bodyBytes(b: Req['body']): Uint8Array {
  return b instanceof Uint8Array ? b : randomBytes(b.size, b.size);
}

function send(target: FuzzTarget, r: Req, framingFamily: boolean): Promise<import('../harness.js').Outcome> {
  const body = bodyBytes(r.body);
  const hasLength = r.headers.some(([k]) => /^(content-length|transfer-encoding)$/i.test(k));
  const headers: Array<[string, string]> = [['Host', `${target.host}:${target.port}`], ['Connection', 'close'], ...r.headers];
  if (!hasLength) headers.push(['Content-Length', String(body.length)]);
  return exchange(target, [requestBytes(r.method, r.path, headers, body)], { timeoutMs: 60_000, halfClose: r.clientCut === true }).then((ex) => {
    if (r.clientCut && ex.kind === 'closed') return { label: 'closed (client cut its body)', documented: true };
    return httpOutcome(ex, framingFamily ? framing : clovaOrHttp);
  });
}

function describe(r: Req): string {
  const size = r.body instanceof Uint8Array ? r.body.length : r.body.size;
  const hs = r.headers.map(([k, v]) => `${k}: ${v.length > 60 ? `${v.slice(0, 60)}...(${v.length})` : v}`).join(' | ');
  return `${r.method} ${r.path.length > 120 ? `${r.path.slice(0, 120)}...(${r.path.length})` : r.path} [${hs}] body ${size} B`;
}

function caseOf(family: string, r: Req, framingFamily = false): FuzzCase {
  return { family, describe: describe(r), run: (t) => send(t, { ...r, headers: r.headers.map(([k, v]) => [k, v === '$KEY' ? t.key : v]) }, framingFamily) };
}

const lang = fc.oneof({ weight: 3, arbitrary: fc.constantFrom('Kor', 'Eng', 'Jpn', 'Chn') }, { weight: 2, arbitrary: oddString });

/** Most cases carry a few bytes that are not audio: parsing is under test, not the engine. */
const cheapBody = fc.uint8Array({ minLength: 0, maxLength: 64 });

const queries = fc
  .record({
    langs: fc.array(lang, { maxLength: 3 }),
    extra: fc.array(fc.tuple(fc.constantFrom('assessment', 'utterance', 'graph', 'boostings', 'completion', 'x', '', 'lang[]', '__proto__'), queryValue), { maxLength: 4 }),
    raw: fc.option(fc.constantFrom('%', '%%', '&&&', '?', '#frag', '=&=', 'lang', 'lang=Kor;lang=Eng'), { nil: undefined }),
    body: cheapBody,
  })
  .map(({ langs, extra, raw, body }) => {
    const parts = [...langs.map((l) => `lang=${pctEncode(l)}`), ...extra.map(([k, v]) => `${k}=${v}`), ...(raw === undefined ? [] : [raw])];
    return caseOf('query', { method: 'POST', path: `${PATH}?${parts.join('&')}`, headers: [[KEY_HEADER, '$KEY'], ['Content-Type', 'application/octet-stream']], body });
  });

const contentType = fc.oneof(
  fc.constantFrom('application/octet-stream', 'APPLICATION/OCTET-STREAM', 'application/octet-stream; charset=utf-8', 'audio/wav', 'application/json', 'multipart/form-data; boundary=x', 'text/plain', '', ';', 'application/octet-stream, text/plain', 'application/x-www-form-urlencoded'),
  oddString,
);
const keyValue = fc.oneof(fc.constant('$KEY'), oddString, fc.constantFrom('$KEY ', ' $KEY', 'Bearer $KEY'));

const headers = fc
  .record({
    key: fc.option(keyValue, { nil: undefined }),
    secondKey: fc.option(keyValue, { nil: undefined }),
    type: fc.option(contentType, { nil: undefined }),
    extra: fc.array(fc.tuple(fc.constantFrom('Expect', 'Content-Encoding', 'Accept', 'Transfer-Encoding', 'X-Forwarded-For', 'Authorization', 'Accept-Encoding'), fc.oneof(oddString, fc.constantFrom('100-continue', 'gzip', 'chunked', 'identity', 'br', '*/*'))), { maxLength: 3 }),
    body: cheapBody,
  })
  .map(({ key, secondKey, type, extra, body }) => {
    const hs: Array<[string, string]> = [];
    if (key !== undefined) hs.push([KEY_HEADER, key.replace(/[\r\n]/g, '')]);
    if (secondKey !== undefined) hs.push([KEY_HEADER, secondKey.replace(/[\r\n]/g, '')]);
    if (type !== undefined) hs.push(['Content-Type', type.replace(/[\r\n]/g, '')]);
    for (const [k, v] of extra) hs.push([k, v.replace(/[\r\n]/g, '')]);
    // A Transfer-Encoding the client then does not follow is its own broken framing.
    const framed = extra.some(([k]) => k === 'Transfer-Encoding');
    return caseOf(framed ? 'headers+framing' : 'headers', { method: 'POST', path: `${PATH}?lang=Eng`, headers: hs, body, clientCut: framed }, framed);
  });

function bodies(clip: Uint8Array): fc.Arbitrary<FuzzCase> {
  const h = (): Array<[string, string]> => [[KEY_HEADER, '$KEY'], ['Content-Type', 'application/octet-stream']];
  return fc.oneof(
    { weight: 6, arbitrary: mangled(clip).map(({ how, bytes }) => ({ ...caseOf('body: mangled audio', { method: 'POST', path: `${PATH}?lang=Eng`, headers: h(), body: bytes }), describe: `POST ${PATH}?lang=Eng, clip ${how}` })) },
    { weight: 1, arbitrary: fc.constant(caseOf('body: empty', { method: 'POST', path: `${PATH}?lang=Kor`, headers: h(), body: new Uint8Array(0) })) },
    { weight: 1, arbitrary: fc.constantFrom(OVERSIZE, 64 * 1024 * 1024).map((size) => caseOf('body: oversized', { method: 'POST', path: `${PATH}?lang=Kor`, headers: h(), body: { size }, clientCut: true })) },
    {
      weight: 1,
      arbitrary: fc.record({ declared: fc.nat({ max: 20_000 }), sent: fc.nat({ max: 20_000 }) }).map(({ declared, sent }) =>
        caseOf('body: lying length', { method: 'POST', path: `${PATH}?lang=Eng`, headers: [...h(), ['Content-Length', String(declared)]], body: clip.subarray(0, Math.min(sent, clip.length)), clientCut: sent < declared }, true)),
    },
    {
      weight: 1,
      arbitrary: fc.array(fc.oneof(fc.constantFrom('0\r\n\r\n', 'zz\r\nabc\r\n', '5\r\nab\r\n', 'ffffffffffffffff\r\n', '3;ext=1\r\nabc\r\n', '-1\r\n', '\r\n'), fc.nat({ max: 300 }).map((n) => `${n.toString(16)}\r\n${'a'.repeat(n)}\r\n`)), { maxLength: 6 }).map((chunks) =>
        caseOf('body: chunked framing', { method: 'POST', path: `${PATH}?lang=Eng`, headers: [...h(), ['Transfer-Encoding', 'chunked']], body: Buffer.from(chunks.join(''), 'latin1'), clientCut: true }, true)),
    },
    { weight: 1, arbitrary: fc.constant(caseOf('body: real clip', { method: 'POST', path: `${PATH}?lang=Eng`, headers: h(), body: clip })) },
  );
}

/** Bytes that are barely HTTP: broken request lines, header syntax, sizes past every limit. */
const framingCases: fc.Arbitrary<FuzzCase> = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 512 }).map((bytes): FuzzCase => ({
    family: 'framing: garbage bytes', describe: `${bytes.length} random bytes`,
    run: (t) => exchange(t, [bytes], { timeoutMs: 30_000, halfClose: true }).then((ex) => (ex.kind === 'closed' ? { label: 'closed', documented: true } : httpOutcome(ex, framing))),
  })),
  fc.constantFrom(
    'POST /recog/v1/stt?lang=Kor HTTP/1.1\nHost: x\n\n',
    'POST /recog/v1/stt?lang=Kor HTTP/9.9\r\nHost: x\r\n\r\n',
    'POST  /recog/v1/stt HTTP/1.1\r\nHost: x\r\n\r\n',
    'BREW /recog/v1/stt HTTP/1.1\r\nHost: x\r\n\r\n',
    'POST /recog/v1/stt?lang=Kor HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nabcde',
    'POST /recog/v1/stt?lang=Kor HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    'POST /recog/v1/stt?lang=Kor HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n',
    'POST /recog/v1/stt?lang=Kor HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n',
    'POST /recog/v1/stt?lang=Kor HTTP/1.1\r\nHost: x\r\nX-Nul: a\u0000b\r\n\r\n',
    'POST /recog/v1/stt?lang=Kor HTTP/1.0\r\n\r\n',
    'POST http://evil.example/recog/v1/stt?lang=Kor HTTP/1.1\r\nHost: x\r\n\r\n',
    'POST /recog/v1/stt/../../admin HTTP/1.1\r\nHost: x\r\n\r\n',
    'GET /recog/v1/stt?lang=Kor HTTP/1.1\r\nHost: x\r\n\r\n',
    'OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n',
  ).map((raw): FuzzCase => ({
    family: 'framing: malformed request', describe: JSON.stringify(raw.slice(0, 100)),
    run: (t) => exchange(t, [Buffer.from(raw, 'latin1')], { timeoutMs: 30_000 }).then((ex) => httpOutcome(ex, framing)),
  })),
  fc.constantFrom(8 * 1024, 17 * 1024, 70 * 1024, 1024 * 1024).map((n): FuzzCase => ({
    family: 'framing: huge head', describe: `a ${n}-byte header and a ${n}-byte URL`,
    run: async (t) => {
      const a = await exchange(t, [requestBytes('POST', `${PATH}?lang=Kor`, [['Host', 'x'], ['Connection', 'close'], ['X-Big', 'a'.repeat(n)], ['Content-Length', '0']])], { timeoutMs: 30_000 });
      const b = await exchange(t, [requestBytes('POST', `${PATH}?lang=Kor&x=${'a'.repeat(n)}`, [['Host', 'x'], ['Connection', 'close'], ['Content-Length', '0']])], { timeoutMs: 30_000 });
      const oa = httpOutcome(a, framing);
      const ob = httpOutcome(b, framing);
      return { label: `${oa.label} / ${ob.label}`, documented: oa.documented && ob.documented };
    },
  })),
  fc.nat({ max: 2000 }).map((n): FuzzCase => ({
    family: 'framing: many headers', describe: `${n} headers`,
    run: (t) => exchange(t, [requestBytes('POST', `${PATH}?lang=Kor`, [['Host', 'x'], ['Connection', 'close'], ...Array.from({ length: n }, (_, i): [string, string] => [`X-H${i}`, 'v']), ['Content-Length', '0']])], { timeoutMs: 30_000 }).then((ex) => httpOutcome(ex, framing)),
  })),
);

export function shortSurface(clip: Uint8Array): Surface {
  return {
    name: 'short /recog/v1/stt',
    cases: fc.oneof({ weight: 3, arbitrary: queries }, { weight: 3, arbitrary: headers }, { weight: 3, arbitrary: bodies(clip) }, { weight: 2, arbitrary: framingCases }),
  };
}
