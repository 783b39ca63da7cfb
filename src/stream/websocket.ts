/**
 * The WebSocket flavour of streaming, for browsers: `GET /recognizer/stream` upgraded on the
 * HTTP port, carrying the same JSON as NestService.
 *
 * - Auth: `X-CLOVASPEECH-API-KEY` or `Authorization: Bearer` headers; for browsers, which cannot
 *   set headers on a WebSocket, the subprotocols `sori` and `sori.key.<secret as base64url>`
 *   (Sec-WebSocket-Protocol, which keeps the secret out of URLs; the server answers `sori`); or
 *   the `key` query parameter, which is redacted from logs.
 * - Client -> server: binary frames are 16 kHz mono 16-bit PCM (DATA); a text frame is JSON:
 *   the first one with config sections is the CONFIG; `{"seqId":n,"epFlag":true}` is the
 *   extra contents of an (empty) DATA message; `{"end":true}` half-closes (flush, answer, close).
 * - Server -> client: text frames, each one `NestResponse.contents` JSON.
 * - Refusals close the socket with code 4401 (bad secret) or 4429 (a limit: too many streams,
 *   or too many failed authentications from this address, the reason saying which and, for
 *   the latter, after how many seconds to retry).
 * - A malformed config closes with 1007 after its "Invalid format" answer; frames ws refuses
 *   with 1002 (protocol), 1007 (text not UTF-8), 1008 (too many fragments) or 1009 (over
 *   WS_MAX_PAYLOAD).
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import websocket from '@fastify/websocket';
import type { WebSocket } from 'ws';
import type { DomainConfig } from '../config.js';
import type { SpeechEngine } from '../speech/engine.js';
import type { SileroVad } from '../speech/vad/silero.js';
import { API_KEY_HEADER, bearerToken, httpOrigin, throttledMessage, type AuthGate } from '../domains/auth.js';
import type { DomainBoostings } from '../domains/boostings.js';
import { StreamSession } from './session.js';
import { SLOTS_UNAVAILABLE_MESSAGE, tooManyStreamsMessage, type ReleaseSlot, type StreamSlotPool } from './stream-slots.js';

export const STREAM_WS_PATH = '/recognizer/stream';
/** The largest frame (and message) a client may send; larger ones are closed with 1009. */
export const WS_MAX_PAYLOAD = 4 * 1024 * 1024;
const CONFIG_KEYS = ['transcription', 'keywordBoosting', 'forbidden', 'semanticEpd'];
/** The subprotocol a browser offers (and the server selects) when it sends its secret as one. */
export const WS_PROTOCOL = 'sori';
/** The subprotocol carrying the secret: this prefix, then the secret in base64url (a token's characters only). */
export const WS_KEY_PROTOCOL_PREFIX = 'sori.key.';

/** The offered subprotocols (Sec-WebSocket-Protocol: comma-separated). */
function offeredProtocols(header: string | string[] | undefined): string[] {
  const text = Array.isArray(header) ? header.join(',') : (header ?? '');
  return text.split(',').map((p) => p.trim()).filter((p) => p !== '');
}

/** The secret a browser sent as the subprotocol `sori.key.<base64url>`, if it did. */
export function protocolKey(header: string | string[] | undefined): string | undefined {
  const offered = offeredProtocols(header).find((p) => p.startsWith(WS_KEY_PROTOCOL_PREFIX));
  if (offered === undefined) return undefined;
  const encoded = offered.slice(WS_KEY_PROTOCOL_PREFIX.length);
  if (!/^[A-Za-z0-9_-]+$/.test(encoded)) return undefined;
  return Buffer.from(encoded, 'base64url').toString('utf8');
}

/**
 * The route in the OpenAPI document (documentation only, as every route schema: server.ts).
 * OpenAPI cannot describe frames; this says how to open the socket. The security schemes are
 * named as src/api/docs/common.ts declares them (stream/ may not import api/).
 */
const webSocketSchema = {
  summary: 'Real-time streaming over a WebSocket',
  description:
    'Upgrade to a WebSocket. Then a text frame with the CONFIG JSON (as NestService\'s), binary frames of 16 kHz mono ' +
    '16-bit PCM, `{"seqId":n,"epFlag":true}` to end an utterance, `{"end":true}` to finish; each answer is a text frame ' +
    "with NestResponse's contents JSON. Refusals close the socket: 4401 (secret), 4429 (a limit). Browsers, which cannot " +
    'set headers, offer the subprotocols `sori` and `sori.key.<secret in base64url>` (Sec-WebSocket-Protocol), or pass ' +
    '`?key=` (redacted from logs). docs/api/streaming.md.',
  operationId: 'streamWebSocket',
  tags: ['CLOVA streaming'],
  security: [{ clovaApiKey: [] }, { bearerAuth: [] }, { queryKey: [] }] as Array<Record<string, string[]>>,
  querystring: {
    type: 'object',
    properties: { key: { type: 'string', description: "A domain's secret, for clients that cannot set headers." } },
  },
  response: {
    101: { description: 'Switching Protocols: the WebSocket is open.', type: 'null' },
    404: { description: 'Not a WebSocket upgrade request.', type: 'null' },
  },
};

export interface WebSocketRouteOptions {
  /** The process's one gate: the domains' secrets plus the per-client throttle. */
  auth: AuthGate;
  engine: SpeechEngine;
  vad: () => Promise<SileroVad>;
  slots: StreamSlotPool;
  finalBeamSize?: number;
  /** Registered keywords a stream's `boostingIDs` refers to (default: the config file's). */
  boostings?: DomainBoostings;
}

export async function streamWebSocketRoutes(app: FastifyInstance, options: WebSocketRouteOptions): Promise<void> {
  const { auth } = options;
  await app.register(websocket, {
    options: {
      maxPayload: WS_MAX_PAYLOAD,
      // Never echo the key-carrying subprotocol back: select `sori` when offered, else none.
      handleProtocols: (protocols: Set<string>) => (protocols.has(WS_PROTOCOL) ? WS_PROTOCOL : false),
    },
    errorHandler: (err, socket, request) => {
      // ws has already answered a client's broken frame with a close frame (1002 protocol, 1007
      // not UTF-8, 1008 too many fragments, 1009 too big) and finishes the closing handshake
      // itself; the plugin's default, terminate(), cut that frame off (the client saw 1006).
      if (socket.readyState !== socket.OPEN) {
        request.log.info({ reason: err.message, code: (err as { code?: unknown }).code }, 'websocket closed: the client broke the protocol');
        return;
      }
      request.log.error({ err }, 'websocket handler failed');
      socket.close(1011, 'internal error');
    },
  });

  const documented = {
    // A copy: @fastify/websocket writes `hide` into the schema it is given.
    schema: { ...webSocketSchema },
    // Documentation only, wherever the route is mounted: the handler reads `key` itself (its
    // documented answers have no body, so there is nothing to serialize).
    validatorCompiler: () => () => true,
    // @fastify/websocket marks its routes hidden from the OpenAPI document; this one is documented.
    config: { swaggerTransform: ({ schema, url }: { schema: object; url: string }) => ({ schema: { ...schema, hide: false }, url }) },
  };
  app.get<{ Querystring: { key?: string } }>(STREAM_WS_PATH, { websocket: true, ...documented }, (socket: WebSocket, request) => {
    const key = request.headers[API_KEY_HEADER] ?? bearerToken(request.headers.authorization)
      ?? protocolKey(request.headers['sec-websocket-protocol']) ?? request.query.key;
    const outcome = auth.authenticate(httpOrigin(request), key);
    if (!outcome.ok) {
      if (outcome.reason === 'throttled') {
        request.log.info({ client: outcome.client }, 'stream refused: client throttled');
        socket.close(4429, throttledMessage(outcome.retryAfterSeconds));
      } else {
        socket.close(4401, 'Invalid secret');
      }
      return;
    }
    const { domain } = outcome;
    // request.log is a child of the pino logger the server was built with.
    const log = (request.log as unknown as Logger).child({ stream: 'websocket', domain: domain.name });
    // Counting the stream may take a round trip to PostgreSQL (cluster mode); ws emits messages
    // whether anyone listens or not, so those arriving meanwhile are kept and replayed in order.
    // The socket is paused meanwhile so that a client cannot pile messages up while PostgreSQL is
    // slow to answer (only what was already read arrives).
    const early: Array<[Buffer, boolean]> = [];
    const keep = (data: Buffer, isBinary: boolean): void => void early.push([data, isBinary]);
    let gone = false;
    const onGone = (): void => {
      gone = true;
    };
    socket.on('message', keep);
    socket.once('close', onGone);
    socket.pause();
    options.slots.take(domain).then(
      (release) => {
        socket.off('message', keep);
        socket.off('close', onGone);
        socket.resume();
        if (gone) {
          release?.();
          return;
        }
        if (release === undefined) {
          socket.close(4429, tooManyStreamsMessage(domain));
          return;
        }
        const onMessage = serve(socket, domain, log, release);
        for (const [data, isBinary] of early) onMessage(data, isBinary);
      },
      (err: unknown) => {
        socket.off('message', keep);
        socket.off('close', onGone);
        socket.resume();
        log.warn({ err }, 'stream refused: its slot could not be counted');
        // 1013 "Try Again Later" (RFC 6455's registry).
        if (!gone) socket.close(1013, SLOTS_UNAVAILABLE_MESSAGE);
      },
    ).catch((err: unknown) => {
      // A throw while setting the stream up must not become an unhandled rejection (it ends the process).
      log.error({ err }, 'stream failed to start');
      socket.close(1011, 'internal error');
    });
  });

  /** Runs the stream on its slot; returns the message handler (for the messages that came early). */
  function serve(socket: WebSocket, domain: DomainConfig, log: Logger, release: ReleaseSlot): (data: Buffer, isBinary: boolean) => void {
    let open = true;
    const send = (contents: Record<string, unknown>): void => {
      if (open && socket.readyState === socket.OPEN) socket.send(JSON.stringify(contents));
    };
    const sessionReady = options.vad().then((vad) =>
      new StreamSession({
        engine: options.engine, vad, domainLanguage: domain.defaultLanguage, send, logger: log, finalBeamSize: options.finalBeamSize,
        domainBoostings: () => options.boostings?.keywords(domain.name) ?? domain.boostings ?? [],
      }),
    );
    let chain: Promise<unknown> = sessionReady;
    let configured = false;
    const then = (fn: (s: StreamSession) => void | Promise<void>): void => {
      chain = chain.then(() => sessionReady).then(fn).catch((err: unknown) => {
        log.error({ err }, 'stream failed');
        socket.close(1011, 'internal error');
      });
    };

    const onMessage = (data: Buffer, isBinary: boolean): void => {
      then(async (s) => {
        if (!open) return;
        if (isBinary) {
          s.data(data, undefined);
          return;
        }
        const text = data.toString('utf8');
        let msg: unknown;
        try {
          msg = JSON.parse(text);
        } catch {
          msg = undefined;
        }
        const obj = typeof msg === 'object' && msg !== null && !Array.isArray(msg) ? (msg as Record<string, unknown>) : undefined;
        if (obj?.end === true) {
          await s.end();
          open = false;
          socket.close(1000, 'done');
          return;
        }
        if (obj !== undefined && (obj.seqId !== undefined || obj.epFlag !== undefined) && !CONFIG_KEYS.some((k) => k in obj)) {
          s.data(new Uint8Array(0), text);
          return;
        }
        if (configured && obj === undefined) return;
        configured = true;
        if (!s.config(text)) {
          open = false;
          socket.close(1007, 'Invalid format');
        }
      });
    };
    socket.on('message', onMessage);
    socket.on('close', () => {
      open = false;
      release();
      void sessionReady.then((s) => s.close(), () => undefined);
    });
    return onMessage;
  }
}
