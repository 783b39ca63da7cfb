/**
 * The web console (docs/console.md): the static files of `web/` at `/`, with a strict
 * Content-Security-Policy and the other security headers on every one of them. The console
 * holds no privilege: its pages call the same public API as any client, with the domain secret
 * the person typed in.
 *
 * Served by @fastify/static (fastify's own, with ETags, ranges and HEAD) with `wildcard: false`:
 * one route per file found at start, so no catch-all route shadows the API's 404s.
 */
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

/** `web/` beside `src/` (and beside `dist/` once built). */
export const WEB_ROOT = fileURLToPath(new URL('../../web/', import.meta.url));

/**
 * Nothing inline, nothing from elsewhere: scripts, styles, the microphone worklet and the
 * WebSocket all come from this origin; audio and images may also be blobs the page made (the
 * file being played, a recording). `connect-src 'self'` covers ws: and wss: to this host.
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "media-src 'self' blob:",
  "connect-src 'self'",
  "worker-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export const CONSOLE_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  // The practice and live tabs record; nothing else is wanted.
  'permissions-policy': 'microphone=(self), camera=(), geolocation=(), payment=(), usb=()',
  // Small files that change with each release: revalidate (ETag) rather than risk a stale mix.
  'cache-control': 'no-cache',
};

export async function consoleRoutes(app: FastifyInstance, opts: { root?: string } = {}): Promise<void> {
  // Encapsulated: these headers go on the console's files only, not on the API's answers.
  app.addHook('onSend', async (_request, reply, payload) => {
    for (const [name, value] of Object.entries(CONSOLE_HEADERS)) void reply.header(name, value);
    return payload;
  });
  await app.register(fastifyStatic, {
    root: opts.root ?? WEB_ROOT,
    prefix: '/',
    wildcard: false,
    index: ['index.html'],
    cacheControl: false,
    dotfiles: 'deny',
  });
}
