/**
 * What the two streaming surfaces (WebSocket and gRPC NestService) share: the audio a case
 * sends, described by the case and cut from the target's clip when it runs, and the config
 * texts, valid and hostile.
 */
import fc from 'fast-check';
import type { FuzzTarget } from '../harness.js';

/** 16 kHz mono 16-bit PCM: bytes per millisecond. */
export const BYTES_PER_MS = 32;

/** Audio a case sends, as data (the clip is the target's): small, so cases stay cheap. */
export type AudioSpec =
  | { src: 'silence'; bytes: number }
  | { src: 'noise'; bytes: number; seed: number }
  | { src: 'clip'; offsetMs: number; bytes: number }
  /** The clip with its WAV header, as a client that sends a file's bytes would. */
  | { src: 'wav'; bytes: number };

export function describeAudio(a: AudioSpec): string {
  return a.src === 'clip' ? `clip@${a.offsetMs}ms ${a.bytes}B` : `${a.src} ${a.bytes}B`;
}

/** Speech is what costs a decode: clips are rare and short, silence and noise common. */
export function audioArb(maxBytes = 48_000): fc.Arbitrary<AudioSpec> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.record({ src: fc.constant('silence' as const), bytes: fc.integer({ min: 0, max: maxBytes }) }) },
    { weight: 3, arbitrary: fc.record({ src: fc.constant('noise' as const), bytes: fc.integer({ min: 0, max: maxBytes }), seed: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ src: fc.constant('clip' as const), offsetMs: fc.integer({ min: 0, max: 2000 }), bytes: fc.integer({ min: 1, max: maxBytes }) }) },
    { weight: 1, arbitrary: fc.record({ src: fc.constant('wav' as const), bytes: fc.integer({ min: 1, max: Math.min(maxBytes, 16_000) }) }) },
  );
}

/** The clip's PCM (its WAV header skipped), cached per clip. */
const pcmOf = new WeakMap<Uint8Array, Buffer>();
export function clipPcm(clip: Uint8Array): Buffer {
  let pcm = pcmOf.get(clip);
  if (pcm === undefined) {
    const b = Buffer.from(clip.buffer, clip.byteOffset, clip.byteLength);
    const data = b.indexOf('data', 12, 'ascii');
    pcm = data >= 0 && b.toString('ascii', 0, 4) === 'RIFF' ? b.subarray(data + 8) : b;
    pcmOf.set(clip, pcm);
  }
  return pcm;
}

export function audioBytes(a: AudioSpec, target: FuzzTarget): Buffer {
  switch (a.src) {
    case 'silence':
      return Buffer.alloc(a.bytes);
    case 'noise': {
      // Quiet noise (about -40 dBFS) from a small LCG: deterministic, and VAD rarely calls it speech.
      const out = Buffer.alloc(a.bytes);
      let x = a.seed >>> 0 || 1;
      for (let i = 0; i < out.length; i++) {
        x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
        out[i] = i % 2 === 0 ? x >>> 24 : (x >>> 31) * 0xff;
      }
      return out;
    }
    case 'clip': {
      const pcm = clipPcm(target.clip);
      const start = Math.min(a.offsetMs * BYTES_PER_MS, Math.max(0, pcm.length - 2));
      return pcm.subarray(start, Math.min(pcm.length, start + a.bytes));
    }
    case 'wav': {
      const clip = Buffer.from(target.clip.buffer, target.clip.byteOffset, target.clip.byteLength);
      return clip.subarray(0, Math.min(clip.length, a.bytes));
    }
  }
}

/** Valid CONFIG texts (and the empty one, which means the defaults). */
export const validConfigArb: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '{"transcription":{"language":"ko"}}',
    '{"transcription":{"language":"en"},"semanticEpd":{"gapThreshold":300,"skipEmptyText":true}}',
    '{"transcription":{"language":"ja"},"forbidden":{"forbiddens":"a,b"}}',
    '{"transcription":{"language":"ko-KR"},"keywordBoosting":{"boostings":[{"words":"하나님,예수","weight":2.0}]},"forbidden":{"forbiddens":"word1,word2"},"semanticEpd":{"skipEmptyText":true,"useWordEpd":true,"usePeriodEpd":true,"gapThreshold":500,"durationThreshold":20000,"syllableThreshold":0}}',
    '{"keywordBoosting":{"boostingIDs":["1"]}}',
    '{}',
    '',
  ),
  fc.record({
    transcription: fc.record({ language: fc.constantFrom('ko', 'en', 'ja', 'zh', 'ko-KR', 'Eng') }, { requiredKeys: [] }),
    semanticEpd: fc.record(
      {
        gapThreshold: fc.integer({ min: 0, max: 60_000 }),
        // From 1 s: a threshold of a few ms makes every 32 ms VAD window of speech its own final
        // decode (valid, but a load the fuzzer's timeouts would read as a hang; see the report).
        durationThreshold: fc.oneof(fc.constant(0), fc.integer({ min: 1000, max: 600_000 })),
        syllableThreshold: fc.integer({ min: 0, max: 200 }),
        skipEmptyText: fc.boolean(),
        usePeriodEpd: fc.boolean(),
      },
      { requiredKeys: [] },
    ),
  }, { requiredKeys: [] }).map((o) => JSON.stringify(o)),
);

/** Any JSON value, including deep and odd ones. */
const jsonValue = fc.jsonValue({ maxDepth: 4 });

const SECTIONS = ['transcription', 'keywordBoosting', 'forbidden', 'semanticEpd'] as const;

/** Config sections whose fields have the wrong types (or the right types with values out of range). */
const wrongTypesArb: fc.Arbitrary<string> = fc
  .record({
    transcription: fc.oneof(jsonValue, fc.record({ language: jsonValue })),
    keywordBoosting: fc.oneof(
      jsonValue,
      fc.record({ boostings: fc.oneof(jsonValue, fc.array(fc.record({ words: jsonValue, weight: jsonValue }, { requiredKeys: [] }), { maxLength: 4 })) }, { requiredKeys: [] }),
      fc.record({ boostingIDs: jsonValue, boostings: fc.array(fc.record({ words: fc.string(), weight: fc.double() }), { maxLength: 3 }) }, { requiredKeys: [] }),
    ),
    forbidden: fc.oneof(jsonValue, fc.record({ forbiddens: fc.oneof(jsonValue, fc.array(fc.string({ unit: 'grapheme' }), { maxLength: 8 })) })),
    semanticEpd: fc.oneof(
      jsonValue,
      fc.dictionary(fc.constantFrom('gapThreshold', 'durationThreshold', 'syllableThreshold', 'skipEmptyText', 'usePeriodEpd', 'useWordEpd'), jsonValue),
    ),
  }, { requiredKeys: [] })
  .map((o) => JSON.stringify(o));

/** Strings where a config is due that are not a JSON object, or are one of the wrong shape. */
export const badConfigArb: fc.Arbitrary<{ text: string; note: string }> = fc.oneof(
  wrongTypesArb.map((text) => ({ text, note: 'wrong types' })),
  fc.string({ unit: 'binary', maxLength: 64 }).map((text) => ({ text, note: 'random text' })),
  jsonValue.filter((v) => typeof v !== 'object' || v === null || Array.isArray(v)).map((v) => ({ text: JSON.stringify(v), note: 'JSON not an object' })),
  fc.constantFrom('{', '{"transcription":', '{"transcription":{"language":"ko"}', '[]', 'null', 'true', '"ko"', '{"a":1}{"b":2}', '{"transcription":{"language":"ko"}}garbage', '\u0000', '{"__proto__":{"language":"en"}}', '{"constructor":{"prototype":{"x":1}}}')
    .map((text) => ({ text, note: 'broken JSON' })),
  fc.integer({ min: 100, max: 5000 }).map((depth) => ({ text: '{"transcription":'.repeat(depth) + '{}' + '}'.repeat(depth), note: `nested ${depth}` })),
  fc.integer({ min: 1000, max: 200_000 }).map((depth) => ({ text: '['.repeat(depth) + ']'.repeat(depth), note: `array nested ${depth}` })),
  fc.constantFrom(...SECTIONS).chain((section) =>
    fc.integer({ min: 1, max: 40 }).map((kib) => {
      const long = 'ㄱ나,'.repeat(Math.ceil((kib * 1024) / 7));
      const body =
        section === 'forbidden' ? { forbidden: { forbiddens: long } }
        : section === 'keywordBoosting' ? { keywordBoosting: { boostings: [{ words: long, weight: 1 }] } }
        : section === 'transcription' ? { transcription: { language: long } }
        : { semanticEpd: { gapThreshold: long } };
      return { text: JSON.stringify(body), note: `${section} of ${kib} KiB` };
    }),
  ),
);

/** A long config under the transport's limit: many forbidden words or keywords. */
export function hugeConfig(kind: 'forbiddens' | 'keywords' | 'longWord', bytes: number): string {
  if (kind === 'longWord') return JSON.stringify({ forbidden: { forbiddens: 'x'.repeat(bytes) }, keywordBoosting: { boostings: [{ words: 'y'.repeat(Math.min(bytes, 100_000)) }] } });
  const words: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const w = `단어${i}`;
    words.push(w);
    size += Buffer.byteLength(w) + 1;
  }
  return kind === 'forbiddens'
    ? JSON.stringify({ forbidden: { forbiddens: words.join(',') } })
    : JSON.stringify({ keywordBoosting: { boostings: [{ words: words.join(','), weight: 1 }] } });
}

/** `extra_contents` texts (WebSocket: the `{"seqId":n,"epFlag":b}` text frames). */
export const extraArb: fc.Arbitrary<string> = fc.oneof(
  fc.record({ seqId: fc.integer(), epFlag: fc.boolean() }).map((o) => JSON.stringify(o)),
  fc.record({ seqId: jsonValue, epFlag: jsonValue }, { requiredKeys: [] }).map((o) => JSON.stringify(o)),
  fc.constantFrom('', ' ', '{', 'null', '[]', '{"seqId":1e400,"epFlag":true}', '{"seqId":-1,"epFlag":"true"}', '{"seqId":9007199254740993,"epFlag":true}', '{"epFlag":true}'),
  fc.string({ unit: 'binary', maxLength: 40 }),
);

export function preview(s: string, n = 60): string {
  return JSON.stringify(s.length > n ? `${s.slice(0, n)}…(${s.length})` : s);
}
