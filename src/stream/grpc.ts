/**
 * CLOVA's gRPC streaming API: `com.nbp.cdncp.nest.grpc.proto.v1.NestService/recognize`
 * (bidirectional), from the spec's own nest.proto, on SORI_GRPC_PORT. Plaintext by default,
 * TLS when a certificate and key are configured. `authorization: Bearer <secret>` names the
 * domain; each domain has a limit of concurrent streams. A client address past the limit of
 * failed authentications gets RESOURCE_EXHAUSTED, with a `retry-after` trailer (seconds).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { Logger } from 'pino';
import type { DomainConfig } from '../config.js';
import type { SpeechEngine } from '../speech/engine.js';
import type { SileroVad } from '../speech/vad/silero.js';
import { bearerToken, throttledMessage, type AuthGate, type ClientOrigin } from '../domains/auth.js';
import type { DomainBoostings } from '../domains/boostings.js';
import { StreamSession } from './session.js';
import { SLOTS_UNAVAILABLE_MESSAGE, StreamSlots, tooManyStreamsMessage, type ReleaseSlot, type StreamSlotPool } from './stream-slots.js';

export const NEST_PROTO = fileURLToPath(new URL('../../proto/nest.proto', import.meta.url));

export interface NestRequest {
  type: 'CONFIG' | 'DATA';
  part?: 'config' | 'data';
  config?: { config: string };
  data?: { chunk: Buffer; extra_contents: string };
}

export interface GrpcOptions {
  host: string;
  port: number;
  /** The process's one gate (shared with the HTTP routes): the domains' secrets plus the per-client throttle. */
  auth: AuthGate;
  engine: SpeechEngine;
  vad: () => Promise<SileroVad>;
  logger: Logger;
  tls?: { cert: string; key: string };
  finalBeamSize?: number;
  /** Shared with the WebSocket route so a domain's limit covers both. */
  slots?: StreamSlotPool;
  /** Registered keywords a stream's `boostingIDs` refers to (default: the config file's). */
  boostings?: DomainBoostings;
}

export interface GrpcServerHandle {
  port: number;
  close(): Promise<void>;
}

/** A request whose bytes are not a NestRequest (what the server's deserializer hands on instead of throwing). */
export class UndecodableRequest {
  constructor(readonly reason: string) {}
}

/**
 * NestService as the server runs it. Its request deserializer never throws: grpc-js answers a
 * throwing one with INTERNAL, as if the server had failed, where the client sent bytes that are
 * not a NestRequest; the handler answers an UndecodableRequest with INVALID_ARGUMENT instead.
 */
export function loadNestService(): grpc.ServiceDefinition {
  const def = protoLoader.loadSync(NEST_PROTO, { keepCase: true, enums: String, longs: Number, defaults: true, oneofs: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    com: { nbp: { cdncp: { nest: { grpc: { proto: { v1: { NestService: grpc.ServiceClientConstructor } } } } } } };
  };
  const service = pkg.com.nbp.cdncp.nest.grpc.proto.v1.NestService.service;
  const recognize = service.recognize as grpc.MethodDefinition<NestRequest | UndecodableRequest, unknown>;
  const decode = recognize.requestDeserialize;
  return {
    ...service,
    recognize: {
      ...recognize,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return decode(bytes);
        } catch (err) {
          return new UndecodableRequest(err instanceof Error ? err.message : String(err));
        }
      },
    },
  };
}

/** `authorization: Bearer <secret>` (any capitalisation of "Bearer"). */
export function bearer(metadata: grpc.Metadata): string | undefined {
  return bearerToken(metadata.get('authorization')[0]);
}

/** A call's origin: grpc-js names the peer `<address>:<port>` (IPv6 unbracketed) or 'unknown'. */
export function grpcOrigin(call: { getPeer(): string; metadata: grpc.Metadata }): ClientOrigin {
  const peer = call.getPeer();
  const address = peer === 'unknown' ? undefined : (/^(.*):\d+$/.exec(peer)?.[1] ?? peer).replace(/^\[(.*)\]$/, '$1');
  const forwardedFor = call.metadata.get('x-forwarded-for').filter((v): v is string => typeof v === 'string');
  return { peer: address, forwardedFor: forwardedFor.length > 0 ? forwardedFor : undefined };
}

export async function startGrpcServer(options: GrpcOptions): Promise<GrpcServerHandle> {
  const { auth } = options;
  const slots: StreamSlotPool = options.slots ?? new StreamSlots();
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 16 * 1024 * 1024 });

  const recognize = (call: grpc.ServerDuplexStream<NestRequest | UndecodableRequest, { contents: string }>): void => {
    const outcome = auth.authenticate(grpcOrigin(call), bearer(call.metadata));
    if (!outcome.ok && outcome.reason === 'throttled') {
      const trailers = new grpc.Metadata();
      trailers.set('retry-after', String(outcome.retryAfterSeconds));
      options.logger.info({ stream: 'grpc', client: outcome.client }, 'stream refused: client throttled');
      call.emit('error', { code: grpc.status.RESOURCE_EXHAUSTED, details: throttledMessage(outcome.retryAfterSeconds), metadata: trailers });
      return;
    }
    if (!outcome.ok) {
      call.emit('error', { code: grpc.status.UNAUTHENTICATED, details: 'Invalid secret' });
      return;
    }
    const { domain } = outcome;
    // Counting the stream may take a round trip to PostgreSQL (cluster mode). grpc-js holds the
    // client's messages until a 'data' listener is attached, so none is lost meanwhile; a client
    // gone before the answer gets its slot given back at once.
    let gone = false;
    const onGone = (): void => {
      gone = true;
    };
    call.once('cancelled', onGone);
    slots.take(domain).then(
      (release) => {
        call.off('cancelled', onGone);
        if (gone) {
          release?.();
          return;
        }
        if (release === undefined) {
          call.emit('error', { code: grpc.status.RESOURCE_EXHAUSTED, details: tooManyStreamsMessage(domain) });
          return;
        }
        serve(call, domain, release);
      },
      (err: unknown) => {
        call.off('cancelled', onGone);
        options.logger.warn({ err, stream: 'grpc', domain: domain.name }, 'stream refused: its slot could not be counted');
        if (!gone) call.emit('error', { code: grpc.status.UNAVAILABLE, details: SLOTS_UNAVAILABLE_MESSAGE });
      },
    ).catch((err: unknown) => {
      // A throw while setting the stream up must not become an unhandled rejection (it ends the process).
      options.logger.error({ err, stream: 'grpc', domain: domain.name }, 'stream failed to start');
      call.emit('error', { code: grpc.status.INTERNAL, details: 'internal error' });
    });
  };

  const serve = (
    call: grpc.ServerDuplexStream<NestRequest | UndecodableRequest, { contents: string }>,
    domain: DomainConfig,
    release: ReleaseSlot,
  ): void => {
    const log = options.logger.child({ stream: 'grpc', domain: domain.name });
    let ended = false;
    const send = (contents: Record<string, unknown>): void => {
      if (!ended && !call.cancelled) call.write({ contents: JSON.stringify(contents) });
    };
    const finish = (): void => {
      if (ended) return;
      ended = true;
      release();
      call.end();
    };

    // Requests arriving while the VAD model loads (first stream only) wait in order.
    const sessionReady = options.vad().then((vad) =>
      new StreamSession({
        engine: options.engine, vad, domainLanguage: domain.defaultLanguage, send, logger: log, finalBeamSize: options.finalBeamSize,
        domainBoostings: () => options.boostings?.keywords(domain.name) ?? domain.boostings ?? [],
      }),
    );
    let chain: Promise<unknown> = sessionReady;
    const then = (fn: (s: StreamSession) => void | Promise<void>): void => {
      chain = chain.then(() => sessionReady).then(fn).catch((err: unknown) => {
        log.error({ err }, 'stream failed');
        call.emit('error', { code: grpc.status.INTERNAL, details: 'internal error' });
        release();
      });
    };

    call.on('data', (req: NestRequest | UndecodableRequest) => {
      then((s) => {
        if (ended) return;
        if (req instanceof UndecodableRequest) {
          log.info({ reason: req.reason }, 'stream refused: a message that is not a NestRequest');
          ended = true;
          s.close();
          release();
          call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: 'Invalid NestRequest' });
          return;
        }
        if (req.type === 'CONFIG' || req.part === 'config') {
          // A second CONFIG is acknowledged too; a malformed one ends the stream after the error.
          if (!s.config(req.config?.config ?? '')) {
            s.close();
            finish();
          }
          return;
        }
        const data = req.data;
        if (data === undefined) return;
        s.data(data.chunk ?? Buffer.alloc(0), data.extra_contents);
      });
    });
    call.on('end', () => {
      then(async (s) => {
        await s.end();
        finish();
      });
    });
    call.on('cancelled', () => {
      ended = true;
      release();
      void sessionReady.then((s) => s.close(), () => undefined);
    });
    call.on('error', () => {
      ended = true;
      release();
      void sessionReady.then((s) => s.close(), () => undefined);
    });
  };

  server.addService(loadNestService(), { recognize });
  const credentials = options.tls === undefined
    ? grpc.ServerCredentials.createInsecure()
    : grpc.ServerCredentials.createSsl(null, [{ cert_chain: readFileSync(options.tls.cert), private_key: readFileSync(options.tls.key) }], false);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${options.host.includes(':') ? `[${options.host}]` : options.host}:${options.port}`, credentials, (err, p) => (err ? reject(err) : resolve(p)));
  });
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        // Streams that never end on their own are cut after a grace period.
        setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 5000).unref();
      }),
  };
}
