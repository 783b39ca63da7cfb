/**
 * NestService (`/com.nbp.cdncp.nest.grpc.proto.v1.NestService/recognize`, src/stream/grpc.ts)
 * under hostile clients. Messages are encoded here by hand and sent through a raw grpc-js
 * method with an identity serializer, so a case can send any bytes: DATA before CONFIG, two
 * CONFIGs, broken config JSON, wrong types, oversized messages, bytes that are not a
 * NestRequest, missing and bad auth, and a half-close, cancel or deadline at every step. The
 * `framing` family goes below grpc-js with node:http2 (compressed-flag games, lying lengths,
 * odd content types and encodings).
 *
 * Documented answers (docs/api/streaming.md, spec section 3): OK after the client's half-close
 * (or after a malformed config's "Invalid format"), UNAUTHENTICATED for a bad secret,
 * RESOURCE_EXHAUSTED past the stream limit or the message size limit, INVALID_ARGUMENT for a
 * message that is not a NestRequest, UNIMPLEMENTED for a compression the server does not
 * speak, and INTERNAL for a compressed message that does not decompress (grpc-js's answer,
 * the one gRPC's status-code guide prescribes, before any of Sori's code runs); CANCELLED and
 * DEADLINE_EXCEEDED are the client's own doing. Any other INTERNAL, UNKNOWN, UNAVAILABLE (the
 * server went away), an "Internal error" response or a hang is a defect.
 */
import * as http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import type { FuzzCase, FuzzTarget, Outcome, Surface } from '../harness.js';
import { audioArb, audioBytes, badConfigArb, describeAudio, extraArb, hugeConfig, preview, validConfigArb, type AudioSpec } from './stream-common.js';

export const NEST_METHOD = '/com.nbp.cdncp.nest.grpc.proto.v1.NestService/recognize';
/** The server's receive limit (src/stream/grpc.ts). */
export const GRPC_MAX_MESSAGE = 16 * 1024 * 1024;
const CASE_TIMEOUT_MS = 30_000;

const S = grpc.status;
type Code = grpc.status;
const codeName = (c: number): string => S[c] ?? String(c);

// ---- protobuf by hand ----

function varint(n: bigint | number): Buffer {
  let v = BigInt.asUintN(64, BigInt(n));
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Buffer.from(out);
}
const key = (field: number, wire: number): Buffer => varint((field << 3) | wire);
const lenField = (field: number, bytes: Uint8Array): Buffer => Buffer.concat([key(field, 2), varint(bytes.length), bytes]);
const enumField = (field: number, v: number): Buffer => Buffer.concat([key(field, 0), varint(v)]);

export function configMessage(json: string, withType = true): Buffer {
  return Buffer.concat([withType ? enumField(1, 0) : Buffer.alloc(0), lenField(2, lenField(1, Buffer.from(json, 'utf8')))]);
}

export function dataMessage(chunk: Uint8Array, extra: string | undefined): Buffer {
  const data = Buffer.concat([lenField(1, chunk), extra === undefined ? Buffer.alloc(0) : lenField(2, Buffer.from(extra, 'utf8'))]);
  return Buffer.concat([enumField(1, 1), lenField(3, data)]);
}

/** `contents` of a NestResponse (field 1), or undefined. */
function responseContents(b: Buffer): string | undefined {
  if (b.length < 2 || b[0] !== 0x0a) return undefined;
  let len = 0;
  let shift = 0;
  let at = 1;
  for (; at < b.length; at++) {
    len |= (b[at] & 0x7f) << shift;
    shift += 7;
    if ((b[at] & 0x80) === 0) break;
  }
  return b.toString('utf8', at + 1, at + 1 + len);
}

// ---- cases ----

type Msg =
  | { k: 'config'; json: string; note: string; bad: boolean; withType: boolean }
  | { k: 'data'; audio: AudioSpec; extra?: string }
  | { k: 'raw'; bytes: Uint8Array; note: string }
  | { k: 'big'; size: number; over: boolean }
  | { k: 'flood'; count: number; size: number }
  | { k: 'pause'; ms: number };

type Ending = { k: 'halfClose' } | { k: 'cancel' } | { k: 'deadline'; ms: number };

type Auth =
  | { how: 'bearer' | 'lowercase' | 'spaces'; valid: true }
  /** `trailing-space`: HTTP/2 drops a header value that ends in whitespace (RFC 9113 8.2.1), so no secret arrives. */
  | { how: 'none' | 'wrong' | 'basic' | 'bare' | 'empty' | 'api-key-header' | 'bin' | 'trailing-space'; valid: false; key?: string };

interface Script {
  auth: Auth;
  msgs: Msg[];
  ending: Ending;
}

function describeMsg(m: Msg): string {
  switch (m.k) {
    case 'config': return `CONFIG(${m.note}${m.withType ? '' : ', no type'} ${preview(m.json, 40)})`;
    case 'data': return `DATA(${describeAudio(m.audio)}${m.extra === undefined ? '' : ` extra=${preview(m.extra, 30)}`})`;
    case 'raw': return `bytes(${m.note} ${Buffer.from(m.bytes.subarray(0, 24)).toString('hex')}${m.bytes.length > 24 ? `…(${m.bytes.length})` : ''})`;
    case 'big': return `DATA(${m.size}B)`;
    case 'flood': return `${m.count}x DATA(${m.size}B)`;
    case 'pause': return `pause ${m.ms}ms`;
  }
}

function describeScript(s: Script): string {
  const auth = s.auth.valid ? `auth ${s.auth.how}` : `bad auth (${s.auth.how}${s.auth.key === undefined ? '' : ` ${preview(s.auth.key, 20)}`})`;
  const ending = s.ending.k === 'deadline' ? `deadline ${s.ending.ms}ms` : s.ending.k;
  return `grpc ${auth}: ${[...s.msgs.map(describeMsg), ending].join(' > ')}`;
}

const validAuth = fc.constantFrom<Auth>({ how: 'bearer', valid: true }, { how: 'bearer', valid: true }, { how: 'lowercase', valid: true }, { how: 'spaces', valid: true });

const configMsg = fc.record({ json: validConfigArb, withType: fc.boolean() }).map(({ json, withType }): Msg => ({ k: 'config', json, note: 'valid', bad: false, withType }));
const badConfigMsg = badConfigArb.map(({ text, note }): Msg => ({ k: 'config', json: text, note, bad: true, withType: true }));
const dataMsg = fc.record({ audio: audioArb(), extra: fc.option(extraArb, { nil: undefined }) }).map(({ audio, extra }): Msg => ({ k: 'data', audio, extra }));
const epFlagMsg = fc.record({ audio: audioArb(3200), seq: fc.nat(1000) }).map(({ audio, seq }): Msg => ({ k: 'data', audio, extra: JSON.stringify({ seqId: seq, epFlag: true }) }));
const pauseMsg = fc.integer({ min: 0, max: 150 }).map((ms): Msg => ({ k: 'pause', ms }));

const endingArb: fc.Arbitrary<Ending> = fc.oneof(
  { weight: 6, arbitrary: fc.constant<Ending>({ k: 'halfClose' }) },
  { weight: 1, arbitrary: fc.constant<Ending>({ k: 'cancel' }) },
  { weight: 1, arbitrary: fc.integer({ min: 50, max: 800 }).map((ms): Ending => ({ k: 'deadline', ms })) },
);

function script(msgs: fc.Arbitrary<Msg[]>, ending: fc.Arbitrary<Ending> = endingArb, auth: fc.Arbitrary<Auth> = validAuth): fc.Arbitrary<Script> {
  return fc.record({ auth, msgs, ending });
}

/** DATA before CONFIG, CONFIG twice, CONFIG after DATA, epFlags anywhere. */
const orderFamily = script(fc.array(fc.oneof(
  { weight: 3, arbitrary: configMsg },
  { weight: 3, arbitrary: dataMsg },
  { weight: 2, arbitrary: epFlagMsg },
  { weight: 1, arbitrary: pauseMsg },
), { minLength: 0, maxLength: 8 }));

/** Config JSON that is broken or has the wrong types. */
const badConfigFamily = script(fc.tuple(fc.array(fc.oneof(dataMsg, configMsg), { maxLength: 2 }), badConfigMsg, fc.array(fc.oneof(dataMsg, configMsg), { maxLength: 2 }))
  .map(([a, bad, b]) => [...a, bad, ...b]));

/** Wrong types on the wire: a field in the wrong place, an enum out of range, both oneof parts, none. */
const wrongShape: fc.Arbitrary<{ bytes: Uint8Array; note: string }> = fc.oneof(
  fc.constant({ bytes: new Uint8Array(0), note: 'empty message' }),
  fc.integer({ min: 2, max: 1000 }).map((v) => ({ bytes: enumField(1, v), note: `type=${v} alone` })),
  fc.constant({ bytes: Buffer.concat([enumField(1, 1)]), note: 'DATA without data' }),
  fc.constant({ bytes: Buffer.concat([enumField(1, 0)]), note: 'CONFIG without config' }),
  fc.constant({ bytes: Buffer.concat([enumField(1, 0), lenField(3, lenField(1, Buffer.alloc(640)))]), note: 'type CONFIG, data part' }),
  fc.constant({ bytes: Buffer.concat([enumField(1, 1), lenField(2, lenField(1, Buffer.from('{"transcription":{"language":"en"}}')))]), note: 'type DATA, config part' }),
  fc.constant({ bytes: Buffer.concat([enumField(1, 1), lenField(2, lenField(1, Buffer.from('{}'))), lenField(3, lenField(1, Buffer.alloc(64)))]), note: 'both parts' }),
  fc.constant({ bytes: Buffer.concat([key(1, 0), varint(-1n)]), note: 'type=-1' }),
  fc.constant({ bytes: Buffer.concat([enumField(1, 0), lenField(2, lenField(1, Buffer.from([0x7b, 0xff, 0xfe, 0x7d])))]), note: 'config not UTF-8' }),
  fc.constant({ bytes: Buffer.concat([enumField(1, 1), lenField(3, Buffer.concat([lenField(1, Buffer.alloc(10)), lenField(2, Buffer.from([0xc3, 0x28]))]))]), note: 'extra_contents not UTF-8' }),
  fc.constant({ bytes: Buffer.concat([enumField(1, 1), lenField(3, Buffer.concat([enumField(1, 7), enumField(2, 9)]))]), note: 'data fields as varints' }),
  fc.constant({ bytes: Buffer.concat([enumField(1, 0), lenField(2, enumField(1, 5))]), note: 'config string as a varint' }),
  fc.constant({ bytes: Buffer.concat([enumField(1, 0), lenField(2, lenField(1, Buffer.from('{}'))), lenField(99, Buffer.alloc(100)), enumField(1000, 3)]), note: 'unknown fields' }),
);

/** Bytes that are not a NestRequest at all, or only nearly one. */
const garbage: fc.Arbitrary<{ bytes: Uint8Array; note: string }> = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 64 }).map((bytes) => ({ bytes, note: 'random' })),
  fc.record({ cut: fc.nat(), json: validConfigArb }).map(({ cut, json }) => {
    const m = configMessage(json);
    return { bytes: m.subarray(0, 1 + (cut % Math.max(1, m.length - 1))), note: 'truncated CONFIG' };
  }),
  fc.constantFrom(6, 7).map((w) => ({ bytes: Buffer.concat([key(5, w), Buffer.alloc(4)]), note: `wire type ${w}` })),
  fc.constant({ bytes: Buffer.concat([key(2, 2), varint(0xffffffff)]), note: 'length past the end' }),
  fc.constant({ bytes: Buffer.concat([key(1, 0), Buffer.alloc(11, 0xff)]), note: 'varint of 11 bytes' }),
  fc.constant({ bytes: Buffer.concat([key(2, 0), varint(1)]), note: 'config part as a varint' }),
  fc.constant({ bytes: Buffer.concat([key(1, 2), varint(3), Buffer.from('abc')]), note: 'type as bytes' }),
  fc.integer({ min: 1, max: 3000 }).map((depth) => ({ bytes: Buffer.concat([Buffer.alloc(depth, key(9, 3)[0]), Buffer.alloc(depth, key(9, 4)[0])]), note: `groups nested ${depth}` })),
  fc.integer({ min: 10_000, max: 400_000 }).map((depth) => ({ bytes: Buffer.alloc(depth, key(9, 3)[0]), note: `unclosed groups ${depth}` })),
  fc.constant({ bytes: Buffer.concat([key(9, 4)]), note: 'group end without start' }),
);

const garbageFamily = script(
  fc.tuple(fc.array(fc.oneof(configMsg, dataMsg), { maxLength: 2 }), fc.oneof(garbage, wrongShape), fc.array(fc.oneof(configMsg, dataMsg), { maxLength: 2 }))
    .map(([a, g, b]): Msg[] => [...a, { k: 'raw', bytes: g.bytes, note: g.note }, ...b]),
);

/** Messages over the limit, big ones under it, huge configs, floods of tiny DATA. */
const sizeFamily = script(
  fc.tuple(
    fc.option(configMsg, { nil: undefined }),
    fc.oneof(
      { weight: 2, arbitrary: fc.integer({ min: 1, max: 1024 * 1024 }).map((over): Msg => ({ k: 'big', size: GRPC_MAX_MESSAGE + over, over: true })) },
      { weight: 1, arbitrary: fc.integer({ min: 1024 * 1024, max: 4 * 1024 * 1024 }).map((size): Msg => ({ k: 'big', size, over: false })) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('forbiddens' as const, 'keywords' as const, 'longWord' as const), kib: fc.integer({ min: 64, max: 8 * 1024 }) })
        .map(({ kind, kib }): Msg => ({ k: 'config', json: hugeConfig(kind, kib * 1024), note: `huge ${kind}`, bad: true, withType: true })) },
      { weight: 2, arbitrary: fc.record({ count: fc.integer({ min: 50, max: 3000 }), size: fc.integer({ min: 0, max: 3 }) }).map((f): Msg => ({ k: 'flood', ...f })) },
    ),
    // Speech after it, so a huge config's masking and correction run on real text.
    fc.option(fc.integer({ min: 0, max: 1000 }).map((offsetMs): Msg => ({ k: 'data', audio: { src: 'clip', offsetMs, bytes: 48_000 }, extra: '{"seqId":1,"epFlag":true}' })), { nil: undefined, freq: 2 }),
  ).map(([c, m, speech]) => [...(c === undefined ? [] : [c]), m, ...(speech === undefined ? [] : [speech])]),
);

/** Missing and bad auth metadata. */
const authFamily = script(
  fc.array(fc.oneof(configMsg, dataMsg), { maxLength: 3 }),
  endingArb,
  fc.oneof(
    fc.constantFrom<Auth>(
      { how: 'none', valid: false }, { how: 'basic', valid: false }, { how: 'bare', valid: false }, { how: 'empty', valid: false },
      { how: 'api-key-header', valid: false }, { how: 'bin', valid: false }, { how: 'trailing-space', valid: false },
    ),
    fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 40 }).filter((k) => /^[\x20-\x7e]+$/.test(k) && k.trim() !== '')
      .map((k): Auth => ({ how: 'wrong', valid: false, key: k })),
  ),
);

/** A normal session cut by a half-close, a cancel or a deadline at every step. */
const cutFamily = script(
  fc.array(fc.oneof(configMsg, dataMsg, epFlagMsg, pauseMsg), { maxLength: 6 }),
  fc.oneof(fc.constant<Ending>({ k: 'halfClose' }), fc.constant<Ending>({ k: 'cancel' }), fc.integer({ min: 20, max: 600 }).map((ms): Ending => ({ k: 'deadline', ms }))),
);

/**
 * A channel per case: a case that gets its connection dropped must not take the calls of other
 * cases down with it (they would fail UNAVAILABLE for nothing they did).
 */
function clientFor(target: FuzzTarget): grpc.Client {
  return new grpc.Client(`${target.host}:${target.grpcPort}`, grpc.credentials.createInsecure());
}

function metadataFor(auth: Auth, secret: string): grpc.Metadata {
  const md = new grpc.Metadata();
  if (auth.valid) {
    md.set('authorization', auth.how === 'lowercase' ? `bearer ${secret}` : auth.how === 'spaces' ? `Bearer   ${secret}` : `Bearer ${secret}`);
    return md;
  }
  switch (auth.how) {
    case 'none': break;
    case 'wrong': md.set('authorization', `Bearer ${auth.key ?? ''}`); break;
    case 'basic': md.set('authorization', `Basic ${Buffer.from(`x:${secret}`).toString('base64')}`); break;
    case 'bare': md.set('authorization', secret); break;
    case 'empty': md.set('authorization', 'Bearer '); break;
    case 'api-key-header': md.set('x-clovaspeech-api-key', secret); break;
    case 'bin': md.set('authorization-bin', Buffer.from(`Bearer ${secret}`)); break;
    case 'trailing-space': md.set('authorization', `Bearer ${secret} `); break;
  }
  return md;
}

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function runScript(target: FuzzTarget, s: Script): Promise<Outcome> {
  if (target.grpcPort === undefined) return Promise.resolve({ label: 'no grpc port', documented: false });
  const client = clientFor(target);
  const deadline = s.ending.k === 'deadline' ? Date.now() + s.ending.ms : Infinity;
  const call = client.makeBidiStreamRequest<Buffer, Buffer>(NEST_METHOD, (b) => b, (b) => b, metadataFor(s.auth, target.key), { deadline });
  /** Status codes the messages sent so far may end the call with. */
  const allowed = new Set<Code>([S.RESOURCE_EXHAUSTED]);
  return new Promise<Outcome>((resolve) => {
    let settled = false;
    let responses = 0;
    let invalidFormat = false;
    let internal = false;
    let cancelled = false;
    const finish = (o: Outcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      client.close();
      resolve(o);
    };
    const timer = setTimeout(() => {
      call.cancel();
      finish({ label: 'timeout', documented: false, detail: `${responses} responses` });
    }, CASE_TIMEOUT_MS);
    call.on('data', (b: Buffer) => {
      responses++;
      const c = responseContents(b) ?? '';
      if (c.includes('"Invalid format"')) invalidFormat = true;
      if (c.includes('"Internal error"')) internal = true;
    });
    call.on('error', () => undefined);
    call.on('status', (st: grpc.StatusObject) => {
      const name = codeName(st.code);
      if (internal) return finish({ label: `grpc ${name} Internal error`, documented: false });
      // A bad secret is answered before anything is read: nothing else is documented for it,
      // except the client's own cancel or deadline beating the answer.
      const documented = s.auth.valid
        ? allowed.has(st.code) || (st.code === S.OK && invalidFormat)
        : st.code === S.UNAUTHENTICATED || ((st.code === S.CANCELLED || st.code === S.DEADLINE_EXCEEDED) && allowed.has(st.code));
      finish({ label: `grpc ${name}`, documented, detail: st.details });
    });
    void (async () => {
      const writable = (): boolean => !settled && !cancelled && call.writable;
      const write = (b: Buffer): Promise<void> => new Promise((r) => (writable() ? call.write(b, () => r()) : r()));
      for (const m of s.msgs) {
        if (!writable()) return;
        switch (m.k) {
          case 'config':
            if (m.bad) allowed.add(S.OK);
            await write(configMessage(m.json, m.withType));
            break;
          case 'data':
            await write(dataMessage(audioBytes(m.audio, target), m.extra));
            break;
          case 'raw':
            allowed.add(S.INVALID_ARGUMENT);
            await write(Buffer.from(m.bytes));
            break;
          case 'big':
            await write(dataMessage(Buffer.alloc(m.size), undefined));
            break;
          case 'flood': {
            const msg = dataMessage(Buffer.alloc(m.size), undefined);
            for (let i = 0; i < m.count - 1 && writable(); i++) call.write(msg);
            await write(msg);
            break;
          }
          case 'pause':
            await pause(m.ms);
            break;
        }
      }
      if (!writable()) return;
      switch (s.ending.k) {
        case 'halfClose':
          allowed.add(S.OK);
          call.end();
          break;
        case 'cancel':
          allowed.add(S.CANCELLED);
          cancelled = true;
          call.cancel();
          break;
        case 'deadline':
          allowed.add(S.DEADLINE_EXCEEDED);
          break;
      }
    })();
    if (s.ending.k === 'deadline') allowed.add(S.DEADLINE_EXCEEDED);
  });
}

function scriptCase(family: string, s: Script): FuzzCase {
  return { family, describe: describeScript(s), run: (target) => runScript(target, s) };
}

// ---- framing, below grpc-js ----

interface Framing {
  note: string;
  contentType?: string;
  encoding?: string;
  path?: string;
  /** The body: gRPC length-prefixed messages, or anything. */
  body: Buffer;
  allowed: Code[];
}

function lpm(message: Buffer, flag = 0, declared = message.length): Buffer {
  const h = Buffer.alloc(5);
  h[0] = flag;
  h.writeUInt32BE(declared >>> 0, 1);
  return Buffer.concat([h, message]);
}

const CONFIG_LPM = lpm(configMessage('{"transcription":{"language":"ko"}}'));

const framingArb: fc.Arbitrary<Framing> = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 40 }).map((g): Framing => ({
    note: 'compressed flag, gzip, garbage', encoding: 'gzip', body: Buffer.concat([CONFIG_LPM, lpm(Buffer.from(g), 1)]), allowed: [S.INTERNAL, S.INVALID_ARGUMENT, S.OK],
  })),
  fc.uint8Array({ minLength: 1, maxLength: 40 }).map((g): Framing => ({
    note: 'compressed flag, deflate, garbage', encoding: 'deflate', body: Buffer.concat([CONFIG_LPM, lpm(Buffer.from(g), 1)]), allowed: [S.INTERNAL, S.INVALID_ARGUMENT, S.OK],
  })),
  fc.constant<Framing>({ note: 'compressed flag without an encoding', body: Buffer.concat([CONFIG_LPM, lpm(configMessage('{}'), 1)]), allowed: [S.INVALID_ARGUMENT, S.OK] }),
  fc.constantFrom('br', 'snappy', 'x-garbage', '').map((encoding): Framing => ({
    note: `encoding ${JSON.stringify(encoding)}, compressed flag`, encoding, body: Buffer.concat([lpm(configMessage('{}'), 1)]), allowed: [S.UNIMPLEMENTED, S.INVALID_ARGUMENT],
  })),
  fc.integer({ min: 2, max: 255 }).map((flag): Framing => ({ note: `flag byte ${flag}`, body: Buffer.concat([CONFIG_LPM, lpm(configMessage('{}'), flag)]), allowed: [S.INVALID_ARGUMENT, S.OK] })),
  fc.integer({ min: 1, max: 1000 }).map((more): Framing => ({
    note: `declared ${more}B more than sent, then end`, body: Buffer.concat([CONFIG_LPM, lpm(configMessage('{}'), 0, configMessage('{}').length + more)]), allowed: [S.INVALID_ARGUMENT, S.OK],
  })),
  fc.integer({ min: 1, max: 4 }).map((n): Framing => ({ note: `${n} bytes of a prefix, then end`, body: Buffer.concat([CONFIG_LPM, Buffer.alloc(n)]), allowed: [S.INVALID_ARGUMENT, S.OK] })),
  fc.constant<Framing>({ note: 'declared 4 GiB', body: Buffer.concat([CONFIG_LPM, lpm(Buffer.alloc(10), 0, 0xffffffff)]), allowed: [S.RESOURCE_EXHAUSTED] }),
  fc.constantFrom('application/json', 'text/plain', 'application/grpc+json', 'application/grpc-web').map((contentType): Framing => ({
    note: `content-type ${contentType}`, contentType, body: CONFIG_LPM, allowed: [S.UNIMPLEMENTED, S.INVALID_ARGUMENT, S.OK],
  })),
  fc.constantFrom('/com.nbp.cdncp.nest.grpc.proto.v1.NestService/Recognize', '/NestService/recognize', '/', '/com.nbp.cdncp.nest.grpc.proto.v1.NestService/recognize/x')
    .map((path): Framing => ({ note: `path ${path}`, path, body: CONFIG_LPM, allowed: [S.UNIMPLEMENTED] })),
  fc.constant<Framing>({ note: 'a clean CONFIG, then end', body: CONFIG_LPM, allowed: [S.OK] }),
);

/** One request over raw HTTP/2: the grpc-status it ends with (trailers, or trailers-only headers). */
function runFraming(target: FuzzTarget, f: Framing): Promise<Outcome> {
  if (target.grpcPort === undefined) return Promise.resolve({ label: 'no grpc port', documented: false });
  return new Promise((resolve) => {
    const session = http2.connect(`http://${target.host}:${target.grpcPort}`);
    let settled = false;
    let internal = false;
    const finish = (o: Outcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session.destroy();
      resolve(o);
    };
    const timer = setTimeout(() => finish({ label: 'timeout', documented: false }), CASE_TIMEOUT_MS);
    session.on('error', (err) => finish({ label: 'http2 error', documented: false, detail: err.message }));
    const headers: http2.OutgoingHttpHeaders = {
      ':method': 'POST',
      ':path': f.path ?? NEST_METHOD,
      'content-type': f.contentType ?? 'application/grpc',
      te: 'trailers',
      authorization: `Bearer ${target.key}`,
    };
    if (f.encoding !== undefined) headers['grpc-encoding'] = f.encoding;
    const req = session.request(headers);
    let httpStatus = 0;
    const verdict = (h: http2.IncomingHttpHeaders): boolean => {
      const gs = h['grpc-status'];
      if (gs === undefined) return false;
      const code = Number(gs) as Code;
      const label = internal ? `grpc ${codeName(code)} Internal error` : `grpc ${codeName(code)}`;
      finish({ label, documented: !internal && f.allowed.includes(code), detail: String(h['grpc-message'] ?? '') });
      return true;
    };
    req.on('response', (h) => {
      httpStatus = Number(h[':status']);
      verdict(h);
    });
    req.on('trailers', (h) => verdict(h));
    req.on('data', (d: Buffer) => {
      if (d.includes('Internal error')) internal = true;
    });
    req.on('error', (err) => finish({ label: 'http2 stream error', documented: false, detail: err.message }));
    req.on('close', () => finish({ label: httpStatus === 0 ? 'http2 closed' : `http ${httpStatus}`, documented: httpStatus >= 400 && httpStatus < 500 && httpStatus !== 0 }));
    req.end(f.body);
  });
}

export const grpcSurface: Surface = {
  name: 'grpc',
  cases: fc.oneof(
    { weight: 4, arbitrary: orderFamily.map((s) => scriptCase('order', s)) },
    { weight: 3, arbitrary: badConfigFamily.map((s) => scriptCase('bad-config', s)) },
    { weight: 3, arbitrary: garbageFamily.map((s) => scriptCase('garbage', s)) },
    { weight: 1, arbitrary: sizeFamily.map((s) => scriptCase('size', s)) },
    { weight: 2, arbitrary: authFamily.map((s) => scriptCase('auth', s)) },
    { weight: 3, arbitrary: cutFamily.map((s) => scriptCase('cut', s)) },
    { weight: 2, arbitrary: framingArb.map((f): FuzzCase => ({ family: 'framing', describe: `http2 ${f.note}`, run: (t) => runFraming(t, f) })) },
  ),
};
