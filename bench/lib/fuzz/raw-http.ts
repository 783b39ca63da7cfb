/**
 * One HTTP exchange over a raw TCP socket: the fuzzers send bytes no HTTP client library would
 * produce (broken framing, lying lengths, bare LFs, garbage), and read what comes back.
 */
import { connect } from 'node:net';

export type Exchange =
  | { kind: 'response'; status: number; headers: Record<string, string>; body: string }
  /** The server closed the connection without a status line. */
  | { kind: 'closed'; error?: string }
  /** No answer within the time allowed. */
  | { kind: 'timeout' };

export interface RawTarget {
  host: string;
  port: number;
}

/**
 * Writes `chunks` (each after the previous is flushed) and reads the first final response
 * (1xx interim answers are skipped). `halfClose` sends FIN after the last chunk: Node's server
 * then aborts a request still in progress, as a client that hangs up would get; real clients
 * keep their side open until the answer. The body is decoded for Content-Length and chunked framing; a
 * response whose body is cut short keeps what arrived.
 */
export function exchange(target: RawTarget, chunks: readonly Uint8Array[], opts: { timeoutMs?: number; halfClose?: boolean } = {}): Promise<Exchange> {
  return new Promise((resolve) => {
    const socket = connect(target.port, target.host);
    const received: Buffer[] = [];
    let settled = false;
    const finish = (result: Exchange): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => finish(parsed() ?? { kind: 'timeout' }), opts.timeoutMs ?? 30_000);
    const parsed = (): Exchange | undefined => parseResponse(Buffer.concat(received));
    socket.on('data', (d: Buffer) => {
      received.push(d);
      const r = parseResponse(Buffer.concat(received), true);
      if (r !== undefined) finish(r);
    });
    socket.on('error', (err) => finish(parsed() ?? { kind: 'closed', error: err.message }));
    socket.on('close', () => finish(parsed() ?? { kind: 'closed' }));
    socket.on('connect', () => {
      void (async () => {
        for (const c of chunks) {
          if (socket.destroyed) return;
          const flushed = socket.write(c);
          if (!flushed) await new Promise<void>((r) => socket.once('drain', r).once('close', r));
        }
        if (opts.halfClose === true && !socket.destroyed) socket.end();
      })();
    });
  });
}

/** A complete response in `buf`, or undefined (when `complete` is asked, only a whole one). */
export function parseResponse(buf: Buffer, complete = false): Exchange | undefined {
  while (/^HTTP\/1\.[01] 1\d\d/.test(buf.subarray(0, 12).toString('latin1'))) {
    const interimEnd = buf.indexOf('\r\n\r\n');
    if (interimEnd < 0) return undefined;
    buf = buf.subarray(interimEnd + 4);
  }
  const headEnd = buf.indexOf('\r\n\r\n');
  if (headEnd < 0) return undefined;
  const head = buf.subarray(0, headEnd).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? '');
  if (m === null) return { kind: 'closed', error: `not an HTTP response: ${JSON.stringify(head[0]?.slice(0, 60))}` };
  const headers: Record<string, string> = {};
  for (const line of head.slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  const rest = buf.subarray(headEnd + 4);
  const status = Number(m[1]);
  if (headers['transfer-encoding']?.toLowerCase() === 'chunked') {
    const body = dechunk(rest);
    if (body === undefined && complete) return undefined;
    return { kind: 'response', status, headers, body: (body ?? rest).toString('utf8') };
  }
  const length = headers['content-length'] === undefined ? (status === 204 || status === 304 ? 0 : undefined) : Number(headers['content-length']);
  if (length === undefined || rest.length < length) {
    if (complete) return undefined;
    return { kind: 'response', status, headers, body: rest.toString('utf8') };
  }
  return { kind: 'response', status, headers, body: rest.subarray(0, length).toString('utf8') };
}

function dechunk(buf: Buffer): Buffer | undefined {
  const out: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = buf.indexOf('\r\n', at);
    if (eol < 0) return undefined;
    const size = parseInt(buf.subarray(at, eol).toString('latin1'), 16);
    if (!Number.isFinite(size)) return undefined;
    if (size === 0) return Buffer.concat(out);
    if (buf.length < eol + 2 + size + 2) return undefined;
    out.push(buf.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}

/** A request's bytes: request line, headers (in order, duplicates allowed) and body. */
export function requestBytes(method: string, path: string, headers: ReadonlyArray<readonly [string, string]>, body: Uint8Array = new Uint8Array(0)): Uint8Array {
  const head = [`${method} ${path} HTTP/1.1`, ...headers.map(([k, v]) => `${k}: ${v}`), '', ''].join('\r\n');
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}
