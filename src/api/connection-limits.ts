/**
 * Bounds on HTTP connections that Node's own timeouts (headersTimeout, requestTimeout,
 * keepAliveTimeout, set in server.ts) leave open:
 *
 * - connections per client address: one address holding hundreds of sockets (idle, or trickling
 *   headers) cannot take the file descriptors other clients need. Excess connections are
 *   destroyed as soon as they are accepted, before a byte is parsed;
 * - a minimum body rate: a request body trickling in (a byte every few seconds) is cut once a
 *   whole window passes with less than the minimum, with 408 when nothing was answered yet.
 *   A window in which the server itself is not reading the body (a paused stream, unread data
 *   waiting) does not count: backpressure is not the client's fault.
 *
 * Both are cheap: a counter per address, and one timer for all requests with a body. The rest
 * of a body answered before it was read whole is discarded, so such a connection ends too.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export type ConnectionCloseReason = 'per_address_limit' | 'slow_body';

export interface ConnectionLimitOptions {
  /** Connections open at once from one address; 0: no limit. */
  maxPerAddress: number;
  /** Bytes per second a body must average over each window; 0: no minimum. */
  minBodyBytesPerSecond: number;
  bodyRateWindowMs: number;
  /** Called for every connection this closes. */
  onClose?: (reason: ConnectionCloseReason, address: string) => void;
}

export interface ConnectionLimits {
  /** Connections open now from `address`. */
  openFrom(address: string): number;
  /** Stops the body-rate timer (the server is closing). */
  stop(): void;
}

/** `::ffff:127.0.0.2` and `127.0.0.2` are one client. */
export function clientAddress(socket: Pick<Socket, 'remoteAddress'>): string {
  const address = socket.remoteAddress ?? 'unknown';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/** One request whose body is still arriving. */
export interface BodyWatch {
  /** Start of the current window, ms. */
  since: number;
  /** socket.bytesRead at `since`. */
  bytesAtStart: number;
}

export type BodyVerdict = 'done' | 'wait' | 'restart' | 'too-slow';

/**
 * What one check makes of a request: its body is complete (or its socket gone); the server is
 * not reading it (restart the window: not the client's fault); the window is not over yet; the
 * window is over and enough came (restart); or too little came.
 */
export function judgeBody(
  request: Pick<IncomingMessage, 'complete' | 'readableFlowing' | 'readableLength'> & { socket: Pick<Socket, 'destroyed' | 'bytesRead'> | null },
  watch: BodyWatch,
  now: number,
  opts: Pick<ConnectionLimitOptions, 'minBodyBytesPerSecond' | 'bodyRateWindowMs'>,
): BodyVerdict {
  const socket = request.socket;
  if (request.complete || socket === null || socket.destroyed) return 'done';
  if (request.readableFlowing !== true || request.readableLength > 0) return 'restart';
  if (now - watch.since < opts.bodyRateWindowMs) return 'wait';
  const received = socket.bytesRead - watch.bytesAtStart;
  return received < (opts.minBodyBytesPerSecond * opts.bodyRateWindowMs) / 1000 ? 'too-slow' : 'restart';
}

/** A request may have a body: a Content-Length above 0, or chunked framing. */
function hasBody(request: IncomingMessage): boolean {
  const length = request.headers['content-length'];
  if (length !== undefined && length.trim() !== '0') return true;
  return request.headers['transfer-encoding'] !== undefined;
}

export function limitConnections(server: Server, opts: ConnectionLimitOptions): ConnectionLimits {
  const open = new Map<string, number>();
  if (opts.maxPerAddress > 0) {
    // After Node's own listener: the socket is set up, then torn down at once, nothing parsed.
    server.on('connection', (socket: Socket) => {
      const address = clientAddress(socket);
      const count = open.get(address) ?? 0;
      if (count >= opts.maxPerAddress) {
        socket.destroy();
        opts.onClose?.('per_address_limit', address);
        return;
      }
      open.set(address, count + 1);
      socket.once('close', () => {
        const left = (open.get(address) ?? 1) - 1;
        if (left > 0) open.set(address, left);
        else open.delete(address);
      });
    });
  }

  // Answered before its body was read whole (a refusal mid-upload: disk full, a bad part): Node
  // discards the rest only for bodies nobody started reading. One a route started reading stays
  // piped into a parser nobody drains any more, paused, the client stuck sending into a full
  // window and the connection held for good. Detach it and discard the rest (at the body rate),
  // as Node does for the others.
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    if (request.complete || !hasBody(request)) return;
    response.once('finish', () => {
      if (request.complete || request.destroyed) return;
      request.unpipe();
      request.resume();
    });
  });

  const watched = new Map<IncomingMessage, BodyWatch & { response: ServerResponse }>();
  let timer: NodeJS.Timeout | undefined;
  if (opts.minBodyBytesPerSecond > 0) {
    server.on('request', (request: IncomingMessage, response: ServerResponse) => {
      if (request.complete || !hasBody(request)) return;
      watched.set(request, { since: Date.now(), bytesAtStart: request.socket.bytesRead, response });
    });
    const check = (): void => {
      const now = Date.now();
      for (const [request, watch] of watched) {
        const verdict = judgeBody(request, watch, now, opts);
        if (verdict === 'done') watched.delete(request);
        else if (verdict === 'restart') {
          watch.since = now;
          watch.bytesAtStart = request.socket.bytesRead;
        } else if (verdict === 'too-slow') {
          watched.delete(request);
          cutSlowBody(request.socket, watch.response, opts.minBodyBytesPerSecond);
          opts.onClose?.('slow_body', clientAddress(request.socket));
        }
      }
    };
    timer = setInterval(check, Math.max(100, Math.min(1000, opts.bodyRateWindowMs / 4)));
    timer.unref();
  }

  return {
    openFrom: (address) => open.get(address) ?? 0,
    stop: () => clearInterval(timer),
  };
}

/** As Node answers its own request timeout: 408 if nothing was answered yet, then the socket goes. */
function cutSlowBody(socket: Socket, response: ServerResponse, minBytesPerSecond: number): void {
  if (!response.headersSent && socket.writable) {
    const body = JSON.stringify({
      error: 'Request Timeout',
      message: `the request body arrived slower than ${minBytesPerSecond} bytes per second`,
      statusCode: 408,
    });
    socket.write(
      `HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}
