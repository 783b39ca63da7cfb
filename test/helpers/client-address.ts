/**
 * Clients that come from another loopback address than 127.0.0.1 (Linux routes all of
 * 127.0.0.0/8 to the loopback interface, so a socket may bind 127.0.0.2 and up): for tests of
 * per-client decisions.
 */
import { request } from 'node:http';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON, else the text. */
  body: unknown;
}

/** One HTTP request from `localAddress`. */
export function httpFrom(
  localAddress: string,
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: Uint8Array | string } = {},
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: init.method ?? 'GET', headers: init.headers, localAddress, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON: the text
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      });
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

export interface Forwarder {
  /** Where to connect: 127.0.0.1:<port>. */
  port: number;
  close(): Promise<void>;
}

/**
 * A TCP relay on 127.0.0.1 whose connections reach 127.0.0.1:`targetPort` from `localAddress`:
 * for clients that cannot bind their socket themselves (grpc-js).
 */
export async function forwardFrom(localAddress: string, targetPort: number): Promise<Forwarder> {
  const sockets = new Set<Socket>();
  const server = createServer((inbound) => {
    const outbound = connect({ host: '127.0.0.1', port: targetPort, localAddress });
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        sockets.delete(s);
        inbound.destroy();
        outbound.destroy();
      });
    }
    inbound.pipe(outbound).pipe(inbound);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
