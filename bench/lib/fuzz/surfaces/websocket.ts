/**
 * The WebSocket streaming route (`GET /recognizer/stream`, src/stream/websocket.ts) under
 * hostile clients: frames out of order, the wrong frame type, oversized frames, floods of tiny
 * ones, broken configs, bad keys, abrupt closes at every step, invalid UTF-8, and frames that
 * break RFC 6455 itself (sent over a raw socket).
 *
 * Documented answers (docs/api/streaming.md): close 1000 after `{"end":true}`, 4401 for a bad
 * secret, 4429 past the stream limit, 1007 for a malformed config or a text frame that is not
 * UTF-8, 1009 for a frame over the size limit, 1002 for a frame that breaks the protocol; a
 * close the client started is answered in kind. A 1011, a close without a close frame
 * (1006), an "Internal error" response or a hang is a defect.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import fc from 'fast-check';
import WebSocket from 'ws';
import type { FuzzCase, FuzzTarget, Outcome, Surface } from '../harness.js';
import { audioArb, audioBytes, badConfigArb, describeAudio, extraArb, hugeConfig, preview, validConfigArb, type AudioSpec } from './stream-common.js';

export const WS_PATH = '/recognizer/stream';
/** The route's frame limit (src/stream/websocket.ts). */
export const WS_MAX_PAYLOAD = 4 * 1024 * 1024;
const CASE_TIMEOUT_MS = 30_000;

type Step =
  | { k: 'text'; text: string; note: string; closes: number[] }
  | { k: 'audio'; audio: AudioSpec }
  | { k: 'bytes'; binary: boolean; size: number; closes: number[] }
  | { k: 'tiny'; count: number; size: number; binary: boolean }
  | { k: 'invalidUtf8'; bytes: number[] }
  | { k: 'textAsBinary'; text: string }
  | { k: 'audioAsText'; audio: AudioSpec }
  | { k: 'ping'; count: number }
  | { k: 'pause'; ms: number };

type Ending = { k: 'end' } | { k: 'close'; code: number } | { k: 'terminate' } | { k: 'tcpEnd' };

type Auth =
  | { how: 'query' | 'header' | 'bearer'; valid: true }
  | { how: 'none' | 'query' | 'header' | 'bearer' | 'basic' | 'twice' | 'empty' | 'long' | 'suffix' | 'case'; valid: false; key?: string };

interface Script {
  auth: Auth;
  steps: Step[];
  ending: Ending;
}

function describeStep(s: Step): string {
  switch (s.k) {
    case 'text': return `text(${s.note} ${preview(s.text, 40)})`;
    case 'audio': return `bin(${describeAudio(s.audio)})`;
    case 'bytes': return `${s.binary ? 'bin' : 'text'}(${s.size}B)`;
    case 'tiny': return `${s.count}x${s.binary ? 'bin' : 'text'}(${s.size}B)`;
    case 'invalidUtf8': return `text(invalid UTF-8 ${Buffer.from(s.bytes).toString('hex')})`;
    case 'textAsBinary': return `bin(json ${preview(s.text, 40)})`;
    case 'audioAsText': return `text(pcm ${describeAudio(s.audio)})`;
    case 'ping': return `${s.count}x ping`;
    case 'pause': return `pause ${s.ms}ms`;
  }
}

function describeScript(s: Script): string {
  const auth = s.auth.valid ? `key by ${s.auth.how}` : `bad key (${s.auth.how}${s.auth.key === undefined ? '' : ` ${preview(s.auth.key, 20)}`})`;
  const ending = s.ending.k === 'close' ? `close(${s.ending.code})` : s.ending.k;
  return `ws ${auth}: ${[...s.steps.map(describeStep), ending].join(' > ')}`;
}

// ---- steps ----

const configStep = validConfigArb.map((text): Step => ({ k: 'text', text, note: 'config', closes: [] }));
const badConfigStep = badConfigArb.map(({ text, note }): Step => ({ k: 'text', text, note, closes: [1007] }));
const audioStep = audioArb().map((audio): Step => ({ k: 'audio', audio }));
const extraStep = extraArb.filter((t) => !t.includes('"end"')).map((text): Step => ({ k: 'text', text, note: 'extra', closes: [1007] }));
const epFlagStep = fc.integer({ min: 0, max: 1000 }).map((n): Step => ({ k: 'text', text: JSON.stringify({ seqId: n, epFlag: true }), note: 'epFlag', closes: [] }));
/** `{"end":true}` mid-stream ends it (1000); the look-alikes are configs without sections. */
const endStep: fc.Arbitrary<Step> = fc.constantFrom('{"end":true}', '{"end":true,"seqId":3}', '{"end":"true"}', '{"end":1}', '{"end":false}')
  .map((text) => ({ k: 'text', text, note: 'end', closes: text.startsWith('{"end":true') ? [1000] : [] }));
const pauseStep = fc.integer({ min: 0, max: 150 }).map((ms): Step => ({ k: 'pause', ms }));

const endingArb: fc.Arbitrary<Ending> = fc.oneof(
  { weight: 6, arbitrary: fc.constant<Ending>({ k: 'end' }) },
  { weight: 1, arbitrary: fc.constantFrom(1000, 1001, 3000, 4000, 4999).map((code): Ending => ({ k: 'close', code })) },
  { weight: 1, arbitrary: fc.constant<Ending>({ k: 'terminate' }) },
  { weight: 1, arbitrary: fc.constant<Ending>({ k: 'tcpEnd' }) },
);

const validAuth = fc.constantFrom<Auth>({ how: 'query', valid: true }, { how: 'header', valid: true }, { how: 'bearer', valid: true });

function script(steps: fc.Arbitrary<Step[]>, ending: fc.Arbitrary<Ending> = endingArb, auth: fc.Arbitrary<Auth> = validAuth): fc.Arbitrary<Script> {
  return fc.record({ auth, steps, ending });
}

/** Steps out of order: audio before the config, two configs, a config after audio, end in the middle. */
const orderFamily = script(
  fc.array(fc.oneof(
    { weight: 3, arbitrary: configStep },
    { weight: 3, arbitrary: audioStep },
    { weight: 2, arbitrary: epFlagStep },
    { weight: 1, arbitrary: extraStep },
    { weight: 1, arbitrary: endStep },
    { weight: 1, arbitrary: pauseStep },
  ), { minLength: 1, maxLength: 8 }),
);

/** Text where binary is due and binary where text is due. */
const frameTypeFamily = script(
  fc.array(fc.oneof(
    { weight: 2, arbitrary: validConfigArb.map((text): Step => ({ k: 'textAsBinary', text })) },
    { weight: 2, arbitrary: audioArb(8000).map((audio): Step => ({ k: 'audioAsText', audio })) },
    { weight: 1, arbitrary: configStep },
    { weight: 1, arbitrary: audioStep },
  ), { minLength: 1, maxLength: 6 }),
);

/** Frames over the limit (either type), and big ones just under it. */
const oversizedFamily = script(
  fc.tuple(
    fc.option(configStep, { nil: undefined }),
    fc.oneof(
      { weight: 3, arbitrary: fc.record({ binary: fc.boolean(), over: fc.integer({ min: 1, max: 1024 * 1024 }) })
        .map(({ binary, over }): Step => ({ k: 'bytes', binary, size: WS_MAX_PAYLOAD + over, closes: [1009] })) },
      { weight: 1, arbitrary: fc.record({ binary: fc.boolean(), under: fc.integer({ min: 0, max: 1024 * 1024 }) })
        .map(({ binary, under }): Step => ({ k: 'bytes', binary, size: WS_MAX_PAYLOAD - under, closes: binary ? [] : [1007] })) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('forbiddens', 'keywords', 'longWord'), kib: fc.integer({ min: 64, max: 3 * 1024 }) })
        .map(({ kind, kib }): Step => ({ k: 'text', text: hugeConfig(kind as 'forbiddens', kib * 1024), note: `huge ${kind}`, closes: [1007] })) },
    ),
    // Speech after it, so a huge config's masking and correction run on real text.
    fc.option(fc.integer({ min: 0, max: 1000 }).map((offsetMs): Step[] => [
      { k: 'audio', audio: { src: 'clip', offsetMs, bytes: 48_000 } },
      { k: 'text', text: '{"seqId":1,"epFlag":true}', note: 'epFlag', closes: [] },
    ]), { nil: undefined, freq: 2 }),
  ).map(([c, big, speech]) => [...(c === undefined ? [] : [c]), big, ...(speech ?? [])]),
);

/** Floods of tiny frames, empty ones included. */
const floodFamily = script(
  fc.tuple(
    fc.option(configStep, { nil: undefined }),
    fc.record({ count: fc.integer({ min: 50, max: 3000 }), size: fc.integer({ min: 0, max: 3 }), binary: fc.boolean() }).map((t): Step => ({ k: 'tiny', ...t })),
    fc.option(fc.oneof(epFlagStep, fc.integer({ min: 10, max: 500 }).map((count): Step => ({ k: 'ping', count }))), { nil: undefined }),
  ).map((steps) => steps.filter((s): s is Step => s !== undefined)),
);

/** Broken configs: not JSON, not an object, wrong types, deep, long. */
const badConfigFamily = script(
  fc.tuple(fc.array(badConfigStep, { minLength: 1, maxLength: 2 }), fc.array(fc.oneof(audioStep, configStep), { maxLength: 2 }))
    .map(([bad, rest]) => [...bad, ...rest]),
);

/** Bad, missing and odd keys; a short valid-looking script after. */
const authFamily = script(
  fc.array(fc.oneof(configStep, audioStep), { maxLength: 3 }),
  fc.constant<Ending>({ k: 'end' }),
  fc.oneof(
    fc.constantFrom<Auth>(
      { how: 'none', valid: false },
      { how: 'empty', valid: false },
      { how: 'twice', valid: false },
      { how: 'basic', valid: false },
      { how: 'long', valid: false },
      { how: 'suffix', valid: false },
      { how: 'case', valid: false },
    ),
    fc.record({
      how: fc.constantFrom('query' as const, 'header' as const, 'bearer' as const),
      valid: fc.constant(false as const),
      key: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 40 }).filter((k) => k.trim() !== ''),
    }),
  ),
);

/** A normal-looking session cut at every step: client close, TCP reset, TCP half-close. */
const abruptFamily = script(
  fc.array(fc.oneof(configStep, audioStep, epFlagStep, pauseStep), { minLength: 0, maxLength: 6 }),
  fc.oneof(
    fc.constantFrom(1000, 1001, 3000, 4000).map((code): Ending => ({ k: 'close', code })),
    fc.constant<Ending>({ k: 'terminate' }),
    fc.constant<Ending>({ k: 'tcpEnd' }),
  ),
);

/** Text frames that are not UTF-8, anywhere in the session. */
const invalidUtf8 = fc.constantFrom<number[]>(
  [0xc3, 0x28], [0xa0, 0xa1], [0xe2, 0x28, 0xa1], [0xf0, 0x28, 0x8c, 0x28], [0xed, 0xa0, 0x80], [0xff], [0xfe, 0xff],
  [0x7b, 0x22, 0x65, 0x6e, 0x64, 0x22, 0x3a, 0x74, 0x72, 0x75, 0x65, 0x7d, 0xc0], // {"end":true} + a stray byte
);
const utf8Family = script(
  fc.tuple(
    fc.array(fc.oneof(configStep, audioStep), { maxLength: 2 }),
    invalidUtf8.map((bytes): Step => ({ k: 'invalidUtf8', bytes })),
    fc.array(fc.oneof(configStep, audioStep), { maxLength: 2 }),
  ).map(([a, bad, b]) => [...a, bad, ...b]),
);

function scriptCase(family: string, s: Script): FuzzCase {
  return { family, describe: describeScript(s), run: (target) => runScript(target, s) };
}

// ---- the raw protocol family ----

interface RawFrame {
  opcode: number;
  payload: Uint8Array;
  fin?: boolean;
  rsv?: number;
  masked?: boolean;
  /** Declares this payload length instead of the real one (64-bit form). */
  lying?: bigint;
}

interface ProtocolCase {
  note: string;
  frames: RawFrame[];
  /** Close codes the server may answer with (1000: the violation was harmless, the session ended normally). */
  closes: number[];
}

const TEXT = 0x1;
const BIN = 0x2;
const CONT = 0x0;
const CLOSE = 0x8;
const PING = 0x9;
const PONG = 0xa;

function closePayload(code: number, reason: Uint8Array = new Uint8Array(0)): Uint8Array {
  const b = Buffer.alloc(2 + reason.length);
  b.writeUInt16BE(code, 0);
  b.set(reason, 2);
  return b;
}

const protocolArb: fc.Arbitrary<ProtocolCase> = fc.oneof(
  fc.constant<ProtocolCase>({ note: 'unmasked text frame', frames: [{ opcode: TEXT, payload: Buffer.from('{}'), masked: false }], closes: [1002] }),
  fc.integer({ min: 1, max: 7 }).map((rsv): ProtocolCase => ({ note: `RSV bits ${rsv}`, frames: [{ opcode: BIN, payload: Buffer.alloc(64), rsv }], closes: [1002] })),
  fc.constantFrom(3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf).map((opcode): ProtocolCase => ({ note: `reserved opcode ${opcode}`, frames: [{ opcode, payload: Buffer.alloc(4) }], closes: [1002] })),
  fc.constant<ProtocolCase>({ note: 'continuation without a start', frames: [{ opcode: CONT, payload: Buffer.alloc(10) }], closes: [1002] }),
  fc.constantFrom(PING, PONG, CLOSE).map((opcode): ProtocolCase => ({ note: `fragmented control ${opcode}`, frames: [{ opcode, payload: Buffer.alloc(2), fin: false }], closes: [1002] })),
  fc.constantFrom(PING, PONG).map((opcode): ProtocolCase => ({ note: `control of 126 bytes (${opcode})`, frames: [{ opcode, payload: Buffer.alloc(126) }], closes: [1002] })),
  fc.constant<ProtocolCase>({
    note: 'a new message inside a fragmented one',
    frames: [{ opcode: TEXT, payload: Buffer.from('{"tra'), fin: false }, { opcode: BIN, payload: Buffer.alloc(4) }],
    closes: [1002],
  }),
  fc.constant<ProtocolCase>({ note: 'close with a 1-byte payload', frames: [{ opcode: CLOSE, payload: Buffer.from([3]) }], closes: [1002] }),
  fc.constantFrom(0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535)
    .map((code): ProtocolCase => ({ note: `close code ${code}`, frames: [{ opcode: CLOSE, payload: closePayload(code) }], closes: [1002] })),
  fc.constant<ProtocolCase>({ note: 'close reason not UTF-8', frames: [{ opcode: CLOSE, payload: closePayload(1000, Buffer.from([0xc3, 0x28])) }], closes: [1007] }),
  fc.constant<ProtocolCase>({ note: 'payload length with the top bit set', frames: [{ opcode: BIN, payload: Buffer.alloc(0), lying: 1n << 63n }], closes: [1009, 1002] }),
  fc.constant<ProtocolCase>({ note: 'payload length 2^53', frames: [{ opcode: BIN, payload: Buffer.alloc(0), lying: 1n << 53n }], closes: [1009] }),
  fc.integer({ min: 16_385, max: 20_000 }).map((n): ProtocolCase => ({
    note: `a message in ${n} fragments`,
    frames: [{ opcode: BIN, payload: Buffer.alloc(2), fin: false }, ...Array.from({ length: n - 1 }, (_, i) => ({ opcode: CONT, payload: Buffer.alloc(2), fin: i === n - 2 }))],
    closes: [1008],
  })),
  // Harmless in the protocol: fragmented messages, pings, unsolicited pongs, empty frames.
  validConfigArb.chain((config) =>
    fc.integer({ min: 1, max: Math.max(1, Buffer.byteLength(config)) }).map((cut): ProtocolCase => {
      const b = Buffer.from(config);
      return {
        note: 'config in two fragments, a ping between',
        frames: [{ opcode: TEXT, payload: b.subarray(0, cut), fin: false }, { opcode: PING, payload: Buffer.from('hi') }, { opcode: CONT, payload: b.subarray(cut) }],
        closes: [1000],
      };
    })),
  fc.constant<ProtocolCase>({ note: 'unsolicited pong, empty binary, empty text', frames: [{ opcode: PONG, payload: Buffer.alloc(3) }, { opcode: BIN, payload: Buffer.alloc(0) }, { opcode: TEXT, payload: Buffer.alloc(0) }], closes: [1000, 1007] }),
);

function frameBytes(f: RawFrame): Buffer {
  const masked = f.masked ?? true;
  const len = f.lying ?? BigInt(f.payload.length);
  const head: number[] = [((f.fin ?? true) ? 0x80 : 0) | ((f.rsv ?? 0) << 4) | f.opcode];
  const m = masked ? 0x80 : 0;
  if (len < 126n) head.push(m | Number(len));
  else if (len < 65536n) head.push(m | 126, Number(len >> 8n) & 0xff, Number(len) & 0xff);
  else {
    head.push(m | 127);
    for (let i = 7; i >= 0; i--) head.push(Number((len >> BigInt(i * 8)) & 0xffn));
  }
  const mask = masked ? randomBytes(4) : Buffer.alloc(0);
  const payload = Buffer.from(f.payload);
  if (masked) for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i % 4];
  return Buffer.concat([Buffer.from(head), mask, payload]);
}

function protocolCase(p: ProtocolCase): FuzzCase {
  return {
    family: 'protocol',
    describe: `ws raw: config > ${p.note} > end`,
    run: (target) => runRaw(target, p),
  };
}

/** A raw client: handshake, a config, the frames, `{"end":true}`, then what the server does. */
function runRaw(target: FuzzTarget, p: ProtocolCase): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket: Socket = connect(target.port, target.host);
    let buf = Buffer.alloc(0);
    let upgraded = false;
    let settled = false;
    const finish = (o: Outcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(o);
    };
    const timer = setTimeout(() => finish({ label: 'timeout', documented: false }), CASE_TIMEOUT_MS);
    socket.on('error', () => undefined);
    socket.on('close', () => finish({ label: 'ws reset', documented: false, detail: upgraded ? 'closed without a close frame' : 'closed during the handshake' }));
    socket.on('connect', () => {
      socket.write(
        `GET ${WS_PATH}?key=${encodeURIComponent(target.key)} HTTP/1.1\r\nHost: ${target.host}:${target.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (!upgraded) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const status = /^HTTP\/1\.1 (\d{3})/.exec(buf.toString('latin1', 0, end))?.[1];
        if (status !== '101') return finish({ label: `http ${status ?? '?'}`, documented: false });
        upgraded = true;
        buf = buf.subarray(end + 4);
        const frames = [
          { opcode: TEXT, payload: Buffer.from('{"transcription":{"language":"ko"}}') },
          ...p.frames,
          { opcode: TEXT, payload: Buffer.from('{"end":true}') },
        ];
        socket.write(Buffer.concat(frames.map(frameBytes)));
      }
      // Server frames: unmasked, short. Look for a close frame.
      for (;;) {
        if (buf.length < 2) return;
        const opcode = buf[0] & 0x0f;
        let len = buf[1] & 0x7f;
        let at = 2;
        if (len === 126) {
          if (buf.length < 4) return;
          len = buf.readUInt16BE(2);
          at = 4;
        } else if (len === 127) {
          if (buf.length < 10) return;
          len = Number(buf.readBigUInt64BE(2));
          at = 10;
        }
        if (buf.length < at + len) return;
        const payload = buf.subarray(at, at + len);
        buf = buf.subarray(at + len);
        if (opcode === CLOSE) {
          const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
          return finish({ label: `ws close ${code}`, documented: p.closes.includes(code), detail: payload.subarray(2).toString('utf8') });
        }
        if (opcode === TEXT && payload.includes('Internal error')) return finish({ label: 'ws Internal error', documented: false });
      }
    });
  });
}

// ---- running a script ----

function url(target: FuzzTarget, auth: Auth): { url: string; headers: Record<string, string> } {
  const base = `ws://${target.host}:${target.port}${WS_PATH}`;
  const q = (k: string): string => `${base}?key=${encodeURIComponent(k)}`;
  if (auth.valid) {
    if (auth.how === 'query') return { url: q(target.key), headers: {} };
    if (auth.how === 'header') return { url: base, headers: { 'X-CLOVASPEECH-API-KEY': target.key } };
    return { url: base, headers: { Authorization: `Bearer ${target.key}` } };
  }
  switch (auth.how) {
    case 'none': return { url: base, headers: {} };
    case 'empty': return { url: `${base}?key=`, headers: {} };
    case 'twice': return { url: `${q(target.key)}&key=${encodeURIComponent(target.key)}`, headers: {} };
    case 'basic': return { url: base, headers: { Authorization: `Basic ${Buffer.from(`x:${target.key}`).toString('base64')}` } };
    case 'long': return { url: q('k'.repeat(6000)), headers: {} };
    case 'suffix': return { url: q(`${target.key}x`), headers: {} };
    case 'case': return { url: q(target.key.toUpperCase() === target.key ? target.key.toLowerCase() : target.key.toUpperCase()), headers: {} };
    case 'query': return { url: q(auth.key ?? ''), headers: {} };
    case 'header': return { url: base, headers: { 'X-CLOVASPEECH-API-KEY': auth.key ?? '' } };
    case 'bearer': return { url: base, headers: { Authorization: `Bearer ${auth.key ?? ''}` } };
  }
}

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function runScript(target: FuzzTarget, s: Script): Promise<Outcome> {
  const { url: u, headers } = url(target, s.auth);
  return new Promise<Outcome>((resolve) => {
    const ws = new WebSocket(u, { headers, perMessageDeflate: false, handshakeTimeout: 10_000 });
    let settled = false;
    let messages = 0;
    let internal = false;
    /** Close codes the steps sent so far may cause. */
    const allowed = new Set<number>([4429]);
    let clientClose: number | 'terminate' | 'tcpEnd' | undefined;
    /** More pings than ws lets wait for their pongs (60): ws cuts the connection, by design. */
    let pingFlood = false;
    const finish = (o: Outcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      ws.terminate();
      resolve(o);
    };
    const timer = setTimeout(() => finish({ label: 'timeout', documented: false, detail: `${messages} messages` }), CASE_TIMEOUT_MS);
    let clientError: string | undefined;
    ws.on('error', (err) => {
      clientError ??= err.message;
    });
    ws.on('unexpected-response', (_req, res) => {
      // A handshake the HTTP layer refuses (e.g. 431 for a header too long) is HTTP's own answer.
      finish({ label: `http ${res.statusCode}`, documented: !s.auth.valid && (res.statusCode ?? 0) >= 400 && (res.statusCode ?? 0) < 500 });
      res.resume();
    });
    ws.on('message', (data) => {
      messages++;
      if (String(data).includes('"Internal error"')) internal = true;
    });
    ws.on('close', (code, reason) => {
      const prefix = messages > 0 ? 'result+' : '';
      if (internal) return finish({ label: `ws ${prefix}close ${code} Internal error`, documented: false });
      if (clientClose === 'terminate' || clientClose === 'tcpEnd') {
        // The server's close frame, when it beat ours, says what it thought; 1006 is our own doing.
        return finish({ label: code === 1006 ? `ws client ${clientClose}` : `ws ${prefix}close ${code}`, documented: code === 1006 || allowed.has(code) || code === 1000 });
      }
      if (clientClose !== undefined && code === clientClose) return finish({ label: `ws client close ${code}`, documented: true });
      if (code === 1006) return finish({ label: `ws ${prefix}reset`, documented: pingFlood, detail: clientError ?? 'no close frame' });
      const documented = s.auth.valid ? allowed.has(code) : code === 4401;
      finish({ label: `ws ${prefix}close ${code}`, documented, detail: clientError ?? reason.toString() });
    });
    ws.on('open', () => {
      void (async () => {
        const open = (): boolean => ws.readyState === WebSocket.OPEN;
        const send = (data: Buffer | string, binary: boolean): Promise<void> =>
          new Promise((r) => (open() ? ws.send(data, { binary }, () => r()) : r()));
        for (const step of s.steps) {
          if (!open()) return;
          switch (step.k) {
            case 'text':
              for (const c of step.closes) allowed.add(c);
              await send(step.text, false);
              break;
            case 'audio':
              await send(audioBytes(step.audio, target), true);
              break;
            case 'bytes':
              for (const c of step.closes) allowed.add(c);
              await send(step.binary ? Buffer.alloc(step.size) : Buffer.alloc(step.size, 0x61), step.binary);
              break;
            case 'tiny': {
              const frame = step.binary ? Buffer.alloc(step.size) : '{}'.slice(0, step.size);
              // Tiny text frames are not configs when one came before; otherwise an empty text is the default config.
              if (!step.binary) allowed.add(1007);
              for (let i = 0; i < step.count - 1 && open(); i++) ws.send(frame, { binary: step.binary });
              await send(frame, step.binary);
              break;
            }
            case 'invalidUtf8':
              allowed.add(1007);
              await send(Buffer.from(step.bytes), false);
              break;
            case 'textAsBinary':
              await send(Buffer.from(step.text), true);
              break;
            case 'audioAsText': {
              // PCM in a text frame: not UTF-8 (1007) or, if it happens to be, not JSON (1007).
              allowed.add(1007);
              await send(audioBytes(step.audio, target), false);
              break;
            }
            case 'ping':
              if (step.count > 60) pingFlood = true;
              for (let i = 0; i < step.count && open(); i++) ws.ping(Buffer.from('p'));
              break;
            case 'pause':
              await pause(step.ms);
              break;
          }
        }
        if (!open()) return;
        switch (s.ending.k) {
          case 'end':
            allowed.add(1000);
            ws.send('{"end":true}');
            break;
          case 'close':
            clientClose = s.ending.code;
            ws.close(s.ending.code, 'bye');
            break;
          case 'terminate':
            clientClose = 'terminate';
            ws.terminate();
            break;
          case 'tcpEnd': {
            clientClose = 'tcpEnd';
            const sock = (ws as unknown as { _socket?: Socket })._socket;
            sock?.end();
            break;
          }
        }
      })();
    });
  });
}

export const websocketSurface: Surface = {
  name: 'websocket',
  cases: fc.oneof(
    { weight: 4, arbitrary: orderFamily.map((s) => scriptCase('order', s)) },
    { weight: 2, arbitrary: frameTypeFamily.map((s) => scriptCase('frame-type', s)) },
    { weight: 1, arbitrary: oversizedFamily.map((s) => scriptCase('oversized', s)) },
    { weight: 2, arbitrary: floodFamily.map((s) => scriptCase('flood', s)) },
    { weight: 3, arbitrary: badConfigFamily.map((s) => scriptCase('bad-config', s)) },
    { weight: 2, arbitrary: authFamily.map((s) => scriptCase('auth', s)) },
    { weight: 3, arbitrary: abruptFamily.map((s) => scriptCase('abrupt', s)) },
    { weight: 2, arbitrary: utf8Family.map((s) => scriptCase('utf8', s)) },
    { weight: 2, arbitrary: protocolArb.map(protocolCase) },
  ),
};
