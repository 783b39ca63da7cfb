/**
 * `/admin/domains/{domain}/boostings` (runtime boosting keywords): methods, domains, secrets
 * and bodies of every shape. Documented answers (docs/api/boostings.md#errors): 200, 401
 * INVALID_SECRET, 403 FORBIDDEN, 400 INVALID_BODY / TOO_MANY_KEYWORDS, a 4xx INVALID_REQUEST,
 * 404 for methods no route serves, and HTTP-level refusals.
 */
import fc from 'fast-check';
import { exchange, requestBytes } from '../raw-http.js';
import { httpOutcome, type FuzzCase, type Surface } from '../harness.js';
import { anyJson, invalidUtf8, jsonishText, oddString, pctEncode } from '../arbitraries.js';
import { httpLevel } from './short.js';

function documented(status: number, code: string | undefined): boolean {
  if (status === 200) return true;
  if (code === 'INVALID_SECRET') return status === 401;
  if (code === 'FORBIDDEN') return status === 403;
  if (code === 'TOO_MANY_AUTH_FAILURES') return status === 429;
  if (code === 'INVALID_REQUEST') return status >= 400 && status < 500;
  if (code === 'INVALID_BODY' || code === 'TOO_MANY_KEYWORDS') return status === 400;
  return httpLevel(status, code) || (status === 404 && code === undefined);
}

const body = fc.oneof(
  { weight: 3, arbitrary: fc.record({ keywords: fc.oneof(fc.array(fc.oneof(fc.constantFrom('Sori', '소리', 'CLOVA Speech'), oddString), { maxLength: 30 }), anyJson) }, { requiredKeys: [] }).map((o) => JSON.stringify(o)) },
  { weight: 2, arbitrary: fc.record({ boostings: fc.oneof(fc.array(fc.record({ words: fc.oneof(fc.constantFrom('a,b', ',,', ''), oddString) }), { maxLength: 5 }), anyJson) }).map((o) => JSON.stringify(o)) },
  { weight: 1, arbitrary: fc.integer({ min: 1000, max: 20_000 }).map((n) => JSON.stringify({ keywords: Array.from({ length: n }, (_, i) => `k${i}`) })) },
  { weight: 2, arbitrary: jsonishText },
);

export const adminSurface: Surface = {
  name: 'admin /admin/domains/{domain}/boostings',
  cases: fc
    .record({
      method: fc.constantFrom('GET', 'PUT', 'PUT', 'DELETE', 'POST', 'PATCH'),
      domain: fc.oneof({ weight: 4, arbitrary: fc.constant('general') }, { weight: 1, arbitrary: oddString.map(pctEncode) }),
      auth: fc.constantFrom('key', 'bearer', 'none', 'wrong'),
      type: fc.constantFrom('application/json', 'text/plain', undefined, 'application/json; charset=latin1'),
      body,
      invalid: fc.option(invalidUtf8, { freq: 6, nil: undefined }),
    })
    .map(({ method, domain, auth, type, body: text, invalid }): FuzzCase => {
      const path = `/admin/domains/${domain}/boostings`;
      const bytes = invalid === undefined ? Buffer.from(text, 'utf8') : Buffer.concat([Buffer.from(text.slice(0, 10)), invalid]);
      return {
        family: `${method} ${auth}`,
        describe: `${method} ${path.slice(0, 120)} auth ${auth} (${type ?? 'no type'}) ${JSON.stringify(text.slice(0, 80))}`,
        run: async (t) => {
          const headers: Array<[string, string]> = [['Host', 'x'], ['Connection', 'close'], ['Content-Length', String(bytes.length)]];
          if (auth === 'key') headers.push(['X-CLOVASPEECH-API-KEY', t.key]);
          if (auth === 'bearer') headers.push(['Authorization', `Bearer ${t.key}`]);
          if (auth === 'wrong') headers.push(['X-CLOVASPEECH-API-KEY', 'not-the-key']);
          if (type !== undefined) headers.push(['Content-Type', type]);
          return httpOutcome(await exchange(t, [requestBytes(method, path, headers, bytes)], { timeoutMs: 30_000 }), documented);
        },
      };
    }),
};
