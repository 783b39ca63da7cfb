/**
 * GET /metrics: Prometheus text. One registry per server (not prom-client's global one), so
 * several servers in one process (tests) never collide over metric names.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { AuthCounts } from '../domains/auth.js';
import type { JobStore } from '../jobs/store.js';
import type { SpeechEngine } from '../speech/engine.js';
import { NO_SECRET, TAGS, textResponse } from './docs/common.js';
import { schemasAreDocumentationOnly } from './docs/documentation-only.js';

const LOOP_RESOLUTION_MS = 1;

export interface HttpMetrics {
  registry: Registry;
  /** Call from an onResponse hook. */
  observe(request: FastifyRequest, reply: FastifyReply): void;
  /** Call when the connection closes before the response finished: the client left first. */
  observeAbort(request: FastifyRequest): void;
  /** A connection the server closed to protect itself (too many from one address, a body too slow, a timeout). */
  connectionClosed(reason: 'per_address_limit' | 'slow_body' | 'timeout'): void;
}

/**
 * A counter that follows a running total kept elsewhere (read at scrape time): it only ever
 * adds the difference, so it stays a counter.
 */
function followingCounter(registry: Registry, name: string, help: string, read: () => number): void {
  let seen = 0;
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      const now = read();
      if (now > seen) this.inc(now - seen);
      seen = now;
    },
  });
}

export function createMetrics(engine: SpeechEngine, jobs?: JobStore, auth?: { counts(): AuthCounts }): HttpMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const labelNames = ['method', 'route', 'status'] as const;
  const requests = new Counter({
    name: 'sori_http_requests_total',
    help: 'HTTP requests answered, by route and status ("aborted": the client hung up first)',
    labelNames,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'sori_http_request_duration_seconds',
    help: 'Time from request start to response end, by route and status',
    labelNames,
    buckets: [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  const closedConnections = new Counter({
    name: 'sori_http_connections_closed_total',
    help: 'HTTP connections the server closed to protect itself, by reason (per_address_limit, slow_body, timeout: headers or request not received in time)',
    labelNames: ['reason'],
    registers: [registry],
  });
  // Sampled at scrape time, so they are always current and cost nothing in between.
  const gauge = (name: string, help: string, pick: (l: ReturnType<SpeechEngine['load']>) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(pick(engine.load()));
      },
    });
  // prom-client's own lag histogram samples every 10 ms and records whole intervals, so an idle
  // server already reads 10+ ms. This one samples every millisecond and reports the excess over
  // that interval: the time callbacks really waited. Reset at each scrape: "since the last scrape".
  const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  loop.enable();
  const excess = (ns: number): number => Math.max(0, ns / 1e9 - LOOP_RESOLUTION_MS / 1000);
  new Gauge({
    name: 'sori_event_loop_delay_seconds',
    help: 'Event-loop delay since the last scrape, beyond the 1 ms sampling interval',
    labelNames: ['quantile'],
    registers: [registry],
    collect() {
      if (loop.count > 0) {
        this.set({ quantile: '0.5' }, excess(loop.percentile(50)));
        this.set({ quantile: '0.99' }, excess(loop.percentile(99)));
        this.set({ quantile: '1' }, excess(loop.max));
      }
      loop.reset();
    },
  });
  gauge('sori_engine_queued', 'Recognition requests waiting for the engine', (l) => l.queued);
  gauge('sori_engine_running', 'Recognition requests being decoded now', (l) => l.running);
  if (jobs !== undefined) {
    new Gauge({
      name: 'sori_jobs_unfinished',
      help: 'Long-form jobs waiting or running (ERROR_TOO_MANY_JOBS counts these)',
      registers: [registry],
      async collect() {
        this.set(await jobs.countUnfinished());
      },
    });
  }
  gauge('sori_engine_capacity', 'Recognition requests the engine decodes at once', (l) => l.capacity);
  if (auth !== undefined) {
    // The gate serves HTTP, WebSocket and gRPC alike: these count all of them.
    followingCounter(registry, 'sori_auth_failures_total', 'Wrong secrets presented, on every surface', () => auth.counts().failures);
    followingCounter(
      registry, 'sori_auth_throttled_total', 'Attempts refused unchecked because their client address failed too often',
      () => auth.counts().throttled,
    );
    const seen = new Map<string, number>();
    new Counter({
      name: 'sori_auth_previous_secret_total',
      help: "Authentications with one of a domain's previousSecrets: clients not yet moved to the new secret",
      labelNames: ['domain'],
      registers: [registry],
      collect() {
        for (const [domain, n] of auth.counts().previousSecret) {
          const before = seen.get(domain) ?? 0;
          if (n > before) this.inc({ domain }, n - before);
          seen.set(domain, n);
        }
      },
    });
  }

  return {
    registry,
    observe(request, reply) {
      // The route pattern, never the raw URL: unknown paths must not create new series.
      const labels = {
        method: request.method,
        route: request.routeOptions.url ?? 'unmatched',
        status: String(reply.statusCode),
      };
      requests.inc(labels);
      duration.observe(labels, reply.elapsedTime / 1000);
    },
    observeAbort(request) {
      requests.inc({ method: request.method, route: request.routeOptions.url ?? 'unmatched', status: 'aborted' });
    },
    connectionClosed(reason) {
      closedConnections.inc({ reason });
    },
  };
}

const metricsSchema = {
  summary: 'Prometheus metrics',
  description: 'HTTP requests by route and status, engine queue, jobs, auth failures, event-loop delay, process metrics (docs/operations.md).',
  operationId: 'getMetrics',
  tags: [TAGS.operations],
  security: NO_SECRET,
  response: { 200: textResponse("Prometheus' text exposition format.", ['text/plain']) },
};

export async function metricsRoutes(app: FastifyInstance, opts: { registry: Registry }): Promise<void> {
  // This plugin's schemas describe its routes (OpenAPI); it checks its input itself, wherever it is mounted.
  schemasAreDocumentationOnly(app);
  app.get('/metrics', { schema: metricsSchema }, async (_request, reply) => {
    const text = await opts.registry.metrics();
    return reply.type(opts.registry.contentType).send(text);
  });
}
