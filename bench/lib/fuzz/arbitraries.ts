/** Hostile values the surfaces share: odd strings, broken bytes, JSON of every wrong shape. */
import fc from 'fast-check';

/** Strings a careless or hostile client sends: empty, huge, control characters, lone surrogates, lookalikes. */
export const oddString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('', ' ', '\t', 'null', 'undefined', 'NaN', '-1', '0', '1e309', 'true', '[]', '{}', '%00', '%', '%zz', '../../etc/passwd', '\u0000', '\u202e', 'Kor\u0000', 'ＫＯＲ', 'kor', 'KOR'),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: fc.constantFrom('\ud800', '\udfff', 'a', '\u0301'), maxLength: 10 }),
  fc.nat({ max: 200_000 }).map((n) => 'x'.repeat(n)),
);

/** Bytes that are not valid UTF-8 (overlong forms, lone continuation bytes, truncated sequences). */
export const invalidUtf8: fc.Arbitrary<Uint8Array> = fc
  .tuple(fc.string({ maxLength: 20 }), fc.constantFrom([0xc0, 0x80], [0xff], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]))
  .map(([s, bad]) => new Uint8Array([...Buffer.from(s, 'utf8'), ...bad]));

/** Any JSON value, including the wrong type where an object is due. */
export const anyJson: fc.Arbitrary<unknown> = fc.jsonValue({ maxDepth: 4 });

/** JSON text nested `depth` deep: parsers that recurse fall over on this. */
export function deepJson(depth: number): string {
  return '['.repeat(depth) + ']'.repeat(depth);
}

/** JSON text or something that almost is. */
export const jsonishText: fc.Arbitrary<string> = fc.oneof(
  anyJson.map((v) => JSON.stringify(v)),
  fc.nat({ max: 100_000 }).map((d) => deepJson(d)),
  fc.nat({ max: 200_000 }).map((n) => `{"a":"${'x'.repeat(n)}"}`),
  fc.constantFrom('{', '}', '{"language":', '{"language":"ko-KR",}', "{'language':'ko-KR'}", 'NaN', '{"__proto__":{"polluted":1}}', '{"constructor":{"prototype":{"x":1}}}', '\ufeff{}', ''),
  oddString,
);

/** Cuts, flips and splices of real bytes: what a broken upload or a bad disk produces. */
export function mangled(base: Uint8Array): fc.Arbitrary<{ how: string; bytes: Uint8Array }> {
  const n = base.length;
  return fc.oneof(
    fc.nat({ max: n }).map((at) => ({ how: `truncated at ${at}`, bytes: base.subarray(0, at) })),
    fc.array(fc.tuple(fc.nat({ max: n - 1 }), fc.nat({ max: 255 })), { minLength: 1, maxLength: 50 }).map((flips) => {
      const b = new Uint8Array(base);
      for (const [i, v] of flips) b[i] = v;
      return { how: `${flips.length} bytes overwritten (first at ${flips[0][0]})`, bytes: b };
    }),
    fc.tuple(fc.nat({ max: 512 }), fc.nat({ max: n })).map(([from, len]) => {
      const b = new Uint8Array(base);
      b.fill(0, from, from + len);
      return { how: `${len} bytes zeroed from ${from}`, bytes: b };
    }),
    fc.tuple(fc.nat({ max: n }), fc.nat({ max: n })).map(([a, b2]) => ({ how: `spliced ${a}|${b2}`, bytes: new Uint8Array([...base.subarray(0, a), ...base.subarray(b2)]) })),
    fc.uint8Array({ maxLength: 4096 }).map((bytes) => ({ how: `${bytes.length} random bytes`, bytes })),
    fc.nat({ max: 64 }).map((k) => ({ how: `header kept, ${k} KiB of random tail`, bytes: new Uint8Array([...base.subarray(0, 64), ...randomBytes(k * 1024, k)]) })),
  );
}

/** Deterministic filler (a case must be the same bytes on every run). */
export function randomBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    out[i] = s & 0xff;
  }
  return out;
}

/** Percent-encodes every byte of the string's UTF-8 (lone surrogates become U+FFFD, as on the wire). */
export function pctEncode(s: string): string {
  return [...Buffer.from(s, 'utf8')].map((b) => (/[A-Za-z0-9._~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('');
}

/** Query-string values, including percent-escapes of bytes that are not UTF-8. */
export const queryValue: fc.Arbitrary<string> = fc.oneof(oddString.map(pctEncode), invalidUtf8.map((b) => [...b].map((x) => `%${x.toString(16).padStart(2, '0')}`).join('')));
