/**
 * A local HTTP receiver for long-form callbacks (node:http on 127.0.0.1): records every POST
 * with its `x-sori-token` and `x-sori-delivery-id` headers and a digest of its body, answers 200.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';

export interface CallbackRecord {
  /** Arrival order, from 0. */
  seq: number;
  at: number;
  token: string | null;
  deliveryId: string | null;
  /** `result` field of the body (COMPLETED / FAILED / ...). */
  result: string | null;
  /** `token` inside the body; must equal the header. */
  bodyToken: string | null;
  /** sha256 of the segments + text, to tell identical results from differing ones. */
  digest: string;
  text: string | null;
  segments: number;
  bytes: number;
  body: unknown;
}

export interface CallbackReceiver {
  url: string;
  records: CallbackRecord[];
  byToken(): Map<string, CallbackRecord[]>;
  close(): Promise<void>;
}

/** What makes two deliveries of one job "the same result": result, segments and text. */
export function resultDigest(body: unknown): string {
  const b = (body ?? {}) as { result?: unknown; segments?: unknown; text?: unknown };
  return createHash('sha256').update(JSON.stringify([b.result ?? null, b.segments ?? null, b.text ?? null])).digest('hex').slice(0, 16);
}

export async function startCallbackReceiver(opts: { keepBodies?: boolean } = {}): Promise<CallbackReceiver> {
  const records: CallbackRecord[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown = null;
      try {
        body = JSON.parse(raw);
      } catch {
        /* recorded as unparseable below */
      }
      const b = (body ?? {}) as { result?: unknown; token?: unknown; text?: unknown; segments?: unknown };
      const header = (name: string) => {
        const v = req.headers[name];
        return typeof v === 'string' ? v : Array.isArray(v) ? v.join(',') : null;
      };
      records.push({
        seq: records.length,
        at: Date.now(),
        token: header('x-sori-token'),
        deliveryId: header('x-sori-delivery-id'),
        result: typeof b.result === 'string' ? b.result : null,
        bodyToken: typeof b.token === 'string' ? b.token : null,
        digest: body === null ? 'unparseable' : resultDigest(body),
        text: typeof b.text === 'string' ? b.text : Array.isArray(b.segments) ? (b.segments as { text?: string }[]).map((s) => s.text ?? '').join(' ') : null,
        segments: Array.isArray(b.segments) ? b.segments.length : 0,
        bytes: raw.length,
        body: opts.keepBodies ? body : undefined,
      });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}/cb`,
    records,
    byToken() {
      const m = new Map<string, CallbackRecord[]>();
      for (const r of records) {
        const k = r.token ?? r.bodyToken ?? '(none)';
        m.set(k, [...(m.get(k) ?? []), r]);
      }
      return m;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
