/**
 * NestService over real gRPC: a Node client built from the spec's nest.proto against the real
 * server, engine (greedy for speed), VAD and audio.
 */
import assert from 'node:assert/strict';
import { PCM16_MONO_16K, wavFile } from '../../bench/lib/wav.js';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { decodeFile } from '../../src/media/decode.js';
import type { SpeechEngine } from '../../src/speech/engine.js';
import { SileroVad } from '../../src/speech/vad/silero.js';
import { NEST_PROTO, startGrpcServer, type GrpcServerHandle } from '../../src/stream/grpc.js';
import { modelsDir, testdataDir } from '../helpers/media-fixtures.js';
import { normalizeEnglish, testDomain, testEngine } from '../helpers/server.js';
import { testAuthGate, testLogger } from '../helpers/test-logs.js';

const KEY = 'stream-secret';
const LIMITED_KEY = 'limited-secret';
let engine: SpeechEngine;
let server: GrpcServerHandle;
let Client: grpc.ServiceClientConstructor;
let jfkPcm16: Buffer;

function toPcm16(pcm: Float32Array): Buffer {
  const out = Buffer.alloc(pcm.length * 2);
  for (let i = 0; i < pcm.length; i++) out.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(pcm[i] * 32767))), i * 2);
  return out;
}

before(async () => {
  engine = testEngine();
  const vad = SileroVad.load(join(modelsDir(), 'silero-vad'));
  server = await startGrpcServer({
    host: '127.0.0.1', port: 0, engine, vad: () => vad, logger: testLogger('grpc'),
    auth: testAuthGate([testDomain('general', KEY), testDomain('limited', LIMITED_KEY, { maxConcurrentStreams: 1 })]),
  });
  const def = protoLoader.loadSync(NEST_PROTO, { keepCase: true, enums: String, defaults: true, oneofs: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { com: { nbp: { cdncp: { nest: { grpc: { proto: { v1: { NestService: grpc.ServiceClientConstructor } } } } } } } };
  Client = pkg.com.nbp.cdncp.nest.grpc.proto.v1.NestService;
  jfkPcm16 = toPcm16((await decodeFile(join(testdataDir(), 'en/jfk.flac'))).pcm);
});

after(async () => {
  await server?.close();
  await engine?.close();
});

interface Outcome {
  responses: Array<Record<string, unknown>>;
  error: grpc.ServiceError | undefined;
}

type Msg = { type: 'CONFIG'; config: { config: string } } | { type: 'DATA'; data: { chunk: Buffer; extra_contents?: string } };

function run(messages: Msg[], opts: { key?: string | null; scheme?: string; holdOpen?: Promise<void> } = {}): Promise<Outcome> {
  const client = new Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure()) as unknown as {
    recognize(md: grpc.Metadata): grpc.ClientDuplexStream<Msg, { contents: string }>;
    close(): void;
  };
  const md = new grpc.Metadata();
  if (opts.key !== null) md.set('authorization', `${opts.scheme ?? 'Bearer'} ${opts.key ?? KEY}`);
  const call = client.recognize(md);
  const responses: Array<Record<string, unknown>> = [];
  return new Promise((resolve) => {
    let error: grpc.ServiceError | undefined;
    call.on('data', (r: { contents: string }) => responses.push(JSON.parse(r.contents) as Record<string, unknown>));
    call.on('error', (e: grpc.ServiceError) => {
      error = e;
    });
    call.on('close', () => {
      client.close();
      resolve({ responses, error });
    });
    call.on('status', () => undefined);
    for (const m of messages) call.write(m);
    void (opts.holdOpen ?? Promise.resolve()).then(() => call.end());
  });
}

const config = (c: unknown): Msg => ({ type: 'CONFIG', config: { config: JSON.stringify(c) } });
const data = (chunk: Buffer, extra?: unknown): Msg => ({ type: 'DATA', data: { chunk, extra_contents: extra === undefined ? '' : JSON.stringify(extra) } });

function chunks(pcm: Buffer, size: number, seqId = 0): Msg[] {
  const out: Msg[] = [];
  for (let i = 0; i < pcm.length; i += size) out.push(data(pcm.subarray(i, i + size), { seqId, epFlag: false }));
  return out;
}

function finals(o: Outcome): Array<Record<string, unknown>> {
  return o.responses
    .filter((r) => (r.responseType as string[])[0] === 'transcription')
    .map((r) => r.transcription as Record<string, unknown>)
    .filter((t) => t.epFlag === true);
}

describe('NestService/recognize', () => {
  it('refuses a missing or wrong secret with UNAUTHENTICATED', async () => {
    for (const key of [null, 'wrong']) {
      const o = await run([config({})], { key });
      assert.equal(o.error?.code, grpc.status.UNAUTHENTICATED);
    }
  });

  it('acknowledges the config, sends partials and finals with times, words and seqId (1 s chunks, like the official samples)', async () => {
    const o = await run([
      config({ transcription: { language: 'en' }, semanticEpd: { skipEmptyText: true, gapThreshold: 500 } }),
      ...chunks(jfkPcm16, 32000, 3),
    ], { scheme: 'bearer' });
    assert.equal(o.error, undefined);
    const ack = o.responses[0];
    assert.deepEqual(ack.responseType, ['config']);
    assert.equal((ack.config as Record<string, unknown>).status, 'Success');
    const fs = finals(o);
    assert.ok(fs.length >= 1);
    const text = normalizeEnglish(fs.map((f) => f.text).join(' '));
    assert.match(text, /ask not what your country can do for you/);
    let position = 0;
    for (const f of fs) {
      assert.equal(f.seqId, 3);
      assert.ok(['gap', 'endPoint', 'durationThreshold'].includes(String(f.epdType)), String(f.epdType));
      assert.ok((f.startTimestamp as number) < (f.endTimestamp as number));
      assert.ok((f.endTimestamp as number) <= 11_100);
      assert.equal(f.position, position);
      position += String(f.text).length + 1;
      const words = f.alignInfos as Array<{ word: string; start: number; end: number }>;
      assert.ok(words.length > 0);
    }
    const partials = o.responses.filter((r) => (r.transcription as Record<string, unknown> | undefined)?.epFlag === false);
    for (const p of partials) assert.equal((p.transcription as Record<string, unknown>).epdType, '');
  });

  it('epFlag:true flushes at once with its seqId; forbidden words are masked', async () => {
    const half = jfkPcm16.subarray(0, 16000 * 2 * 4);
    const o = await run([
      config({ transcription: { language: 'en' }, forbidden: { forbiddens: ['fellow'] } }),
      ...chunks(half, 6400, 1),
      data(Buffer.alloc(0), { seqId: 9, epFlag: true }),
    ]);
    const fs = finals(o);
    const flushed = fs.find((f) => f.epdType === 'endPoint');
    assert.ok(flushed, JSON.stringify(fs));
    assert.equal(flushed.seqId, 9);
    const all = fs.map((f) => String(f.text)).join(' ');
    assert.match(all, /\*{6}/);
    assert.doesNotMatch(all.toLowerCase(), /fellow/);
  });

  it('tolerates DATA without CONFIG, a leading WAV header and odd chunk sizes', async () => {
    const wav = wavFile(PCM16_MONO_16K, jfkPcm16);
    const msgs: Msg[] = [];
    for (let i = 0; i < wav.length; i += 7777) msgs.push({ type: 'DATA', data: { chunk: wav.subarray(i, i + 7777) } });
    const o = await run(msgs);
    assert.equal(o.error, undefined);
    // The domain's default language is Korean; the words still come out as speech, not noise.
    assert.ok(finals(o).length >= 1);
  });

  it('a stream with only CONFIG gets its ack and ends', async () => {
    const o = await run([config({ transcription: { language: 'ko' } })]);
    assert.equal(o.error, undefined);
    assert.equal(o.responses.length, 1);
    assert.deepEqual(o.responses[0].responseType, ['config']);
  });

  it('answers a malformed config with the in-stream error and ends; bad sections are flagged in the ack', async () => {
    const bad = await run([{ type: 'CONFIG', config: { config: '{"transcription": ' } }, data(jfkPcm16.subarray(0, 32000))]);
    assert.equal(bad.error, undefined);
    assert.deepEqual(bad.responses[0].responseType, ['recognize']);
    assert.equal((bad.responses[0].recognize as Record<string, unknown>).status, 'Invalid format');
    const partial = await run([config({ transcription: { language: 'tlh' }, keywordBoosting: { boostings: [{ words: 'a', weight: 9 }] } })]);
    const ack = partial.responses[0].config as Record<string, Record<string, unknown>>;
    assert.equal(ack.transcription.status, 'Invalid language');
    assert.equal(ack.keywordBoosting.status, 'Invalid weight');
  });

  it('bytes that are not a NestRequest end the call with INVALID_ARGUMENT (grpc-js said INTERNAL) and free the slot', async () => {
    // A raw method with an identity serializer sends the bytes as they are.
    const client = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
    const send = (bytes: Buffer[]): Promise<{ status: grpc.StatusObject; responses: number }> =>
      new Promise((resolve) => {
        const md = new grpc.Metadata();
        md.set('authorization', `Bearer ${LIMITED_KEY}`);
        const call = client.makeBidiStreamRequest<Buffer, Buffer>(
          '/com.nbp.cdncp.nest.grpc.proto.v1.NestService/recognize', (b) => b, (b) => b, md,
        );
        let responses = 0;
        call.on('data', () => responses++);
        call.on('error', () => undefined);
        call.on('status', (status) => resolve({ status, responses }));
        for (const b of bytes) call.write(b);
        call.end();
      });
    try {
      // A valid CONFIG ({"transcription":{"language":"ko"}} as field 2 of type CONFIG), then a
      // length-delimited field whose length runs past the end, then unclosed groups 100,000 deep.
      const configMsg = Buffer.concat([Buffer.from([0x08, 0x00, 0x12, 0x25, 0x0a, 0x23]), Buffer.from('{"transcription":{"language":"ko"}}')]);
      for (const garbage of [Buffer.from([0x12, 0xff, 0xff, 0xff, 0xff, 0x0f]), Buffer.alloc(100_000, 0x4b)]) {
        const out = await send([configMsg, garbage]);
        assert.equal(out.status.code, grpc.status.INVALID_ARGUMENT, grpc.status[out.status.code]);
        assert.equal(out.status.details, 'Invalid NestRequest');
        assert.equal(out.responses, 1, 'the config was acknowledged first');
      }
      // The limited domain has one slot: it came back.
      const ok = await send([configMsg]);
      assert.equal(ok.status.code, grpc.status.OK);
    } finally {
      client.close();
    }
  });

  it('RESOURCE_EXHAUSTED past the domain\'s concurrent-stream limit', async () => {
    let release!: () => void;
    const hold = new Promise<void>((r) => (release = r));
    const first = run([config({})], { key: LIMITED_KEY, holdOpen: hold });
    await new Promise((r) => setTimeout(r, 300));
    const second = await run([config({})], { key: LIMITED_KEY });
    assert.equal(second.error?.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.equal(second.error?.details, 'Too many channels, the max channel is: 1');
    release();
    assert.equal((await first).error, undefined);
    const third = await run([config({})], { key: LIMITED_KEY });
    assert.equal(third.error, undefined, 'the slot is free again');
  });
});

describe('NestService over TLS', () => {
  it('speaks TLS when a certificate and key are configured', async () => {
    const { execFileSync } = await import('node:child_process');
    const { mkdtempSync, readFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'sori-tls-'));
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
        '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
      const vad = SileroVad.load(join(modelsDir(), 'silero-vad'));
      const tls = await startGrpcServer({
        host: '127.0.0.1', port: 0, engine, vad: () => vad, logger: testLogger('grpc'),
        auth: testAuthGate([testDomain('general', KEY)]), tls: { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') },
      });
      try {
        const client = new Client(`localhost:${tls.port}`, grpc.credentials.createSsl(readFileSync(join(dir, 'cert.pem')))) as unknown as {
          recognize(md: grpc.Metadata): grpc.ClientDuplexStream<Msg, { contents: string }>;
          close(): void;
        };
        const md = new grpc.Metadata();
        md.set('authorization', `Bearer ${KEY}`);
        const call = client.recognize(md);
        const got: string[] = [];
        call.on('data', (r: { contents: string }) => got.push(r.contents));
        await new Promise<void>((resolve, reject) => {
          call.on('error', reject);
          call.on('end', () => resolve());
          call.write(config({ transcription: { language: 'ko' } }));
          call.end();
        });
        client.close();
        assert.equal(got.length, 1);
        assert.match(got[0], /"responseType":\["config"\]/);
      } finally {
        await tls.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('wire compatibility', () => {
  it('a Python grpcio client built from the same nest.proto gets the ack and the final text', async () => {
    const { execFile } = await import('node:child_process');
    const { writeFileSync, mkdtempSync, rmSync, existsSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { dirname } = await import('node:path');
    const { fileURLToPath } = await import('node:url');
    const here = dirname(fileURLToPath(import.meta.url));
    const python = join(here, '../../.test-tools/py/bin/python');
    assert.ok(existsSync(python), 'run scripts/install-test-services.sh (scripts/test.sh does) to install grpcio');
    const dir = mkdtempSync(join(tmpdir(), 'sori-py-'));
    try {
      writeFileSync(join(dir, 'jfk.pcm'), jfkPcm16);
      const out = await new Promise<string>((resolve, reject) => {
        execFile(python, [join(here, 'nest_client.py'), dirname(NEST_PROTO), `127.0.0.1:${server.port}`, KEY, join(dir, 'jfk.pcm'), 'en'],
          { timeout: 300_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
      });
      const responses = out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.deepEqual(responses[0].responseType, ['config']);
      const text = responses
        .map((r) => r.transcription as Record<string, unknown> | undefined)
        .filter((t) => t?.epFlag === true)
        .map((t) => String(t?.text))
        .join(' ');
      assert.match(normalizeEnglish(text), /ask not what your country can do for you/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
