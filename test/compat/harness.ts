/**
 * The compatibility suite's stage: a real Sori (HTTP with long-form jobs, gRPC streaming), a
 * real S3-compatible store holding the test media, a loopback media server for `/recognizer/url`
 * and a callback receiver, all on 127.0.0.1. A client program in another language is run
 * against it with these environment variables:
 *
 *   SORI_URL        http://127.0.0.1:<port> (REST)       SORI_KEY      the domain's secret
 *   SORI_GRPC       127.0.0.1:<port> (NestService)      MEDIA_PATH    an English clip (FLAC, 11 s)
 *   MEDIA_URL       the same clip over HTTP              OBJECT_KEY    the same clip in the bucket
 *   CALLBACK_URL    where to ask for callbacks           PCM_PATH      the clip as 16 kHz s16le PCM
 *
 * and prints one JSON line per answer it got: {"shape", "schema", "status", "body"} where
 * `schema` names the CLOVA body it expects (clova-schemas.ts) or is null for a non-JSON answer,
 * plus optionally "callbackFor": <token> for an async job it asked a callback for. It checks
 * its own expectations (texts, echoed params) and exits non-zero on the first one that fails;
 * the harness then checks every body against the schema and every promised callback.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { DomainBoostings } from '../../src/domains/boostings.js';
import type { SpeechEngine } from '../../src/speech/engine.js';
import { sharedVadLoader } from '../../src/speech/vad/silero.js';
import { startGrpcServer, type GrpcServerHandle } from '../../src/stream/grpc.js';
import { StreamSlots } from '../../src/stream/stream-slots.js';
import { decodeFile } from '../../src/media/decode.js';
import { modelsDir, testdataDir } from '../helpers/media-fixtures.js';
import { startS3, S3_ACCESS_KEY, S3_SECRET_KEY, type S3Server } from '../helpers/s3-server.js';
import { startServer, testConfig, testDomain, testEngine, type TestServer } from '../helpers/server.js';
import { testAuthGate, testLogger } from '../helpers/test-logs.js';
import { assertClovaBody, type SchemaName } from './clova-schemas.js';

export const COMPAT_KEY = 'compat-suite-secret';
export const CLIP = join(testdataDir(), 'en/jfk.flac');

export interface ClientAnswer {
  client?: string;
  shape: string;
  schema: SchemaName | null;
  status: number;
  body: unknown;
  callbackFor?: string;
}

export interface Stage {
  env: Record<string, string>;
  /** Runs a client program to its end; its answers, each already checked against its schema. */
  runClient(command: string, args: string[], options?: { cwd?: string; timeoutMs?: number }): Promise<ClientAnswer[]>;
  /** The callbacks received for `token`, waiting up to `timeoutMs` for the first. */
  callbacksFor(token: string, timeoutMs?: number): Promise<unknown[]>;
  close(): Promise<void>;
}

export async function startStage(): Promise<Stage> {
  const engine: SpeechEngine = testEngine();
  const dataDir = await mkdtemp(join(tmpdir(), 'sori-compat-'));
  const clip = await readFile(CLIP);
  const pcm = await decodeFile(CLIP);
  const pcmPath = join(dataDir, 'clip.s16le');
  const s16 = Buffer.alloc(pcm.pcm.length * 2);
  pcm.pcm.forEach((v, i) => s16.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(v * 32767))), i * 2));
  await writeFile(pcmPath, s16);

  const s3: S3Server = await startS3('sori-compat');
  await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'calls/jfk.flac', Body: clip }));

  const config = testConfig([testDomain('general', COMPAT_KEY)]);
  config.dataDir = dataDir;
  config.network.allowList = ['127.0.0.1'];
  config.objectStorage = {
    endpoint: s3.endpoint, region: 'us-east-1', bucket: s3.bucket, accessKeyId: S3_ACCESS_KEY,
    secretAccessKey: S3_SECRET_KEY, forcePathStyle: true, resultPrefix: 'results/', mediaPrefix: 'sori-media/',
  };
  // Streaming mounted as in `sori` itself: its upgrade handler changes how Node routes some requests.
  // One gate for HTTP and gRPC, as in `sori`.
  const auth = testAuthGate(config.domains, { ...config.auth, trustProxy: config.server.trustProxy });
  const http: TestServer = await startServer(engine, [], { jobsConfig: config, streaming: true, auth });
  const grpc: GrpcServerHandle = await startGrpcServer({
    host: '127.0.0.1', port: 0, auth, engine, vad: sharedVadLoader(modelsDir()),
    slots: new StreamSlots(), logger: testLogger('compat-grpc'), finalBeamSize: 2,
    boostings: await DomainBoostings.open(config.domains, undefined),
  });

  const media: Server = createServer((req, res) => {
    if (req.url?.startsWith('/jfk.flac')) {
      res.writeHead(200, { 'content-type': 'audio/flac', 'content-length': clip.length });
      res.end(clip);
    } else {
      res.writeHead(404).end();
    }
  });
  const callbacks = new Map<string, unknown[]>();
  const receiver: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { token?: string };
        const token = String(body.token);
        callbacks.set(token, [...(callbacks.get(token) ?? []), body]);
      } catch {
        // Not JSON: the harness's check finds no callback and says so.
      }
      res.writeHead(200).end();
    });
  });
  const mediaUrl = await listen(media);
  const callbackUrl = await listen(receiver);

  const env: Record<string, string> = {
    SORI_URL: http.url,
    SORI_KEY: COMPAT_KEY,
    SORI_GRPC: `127.0.0.1:${grpc.port}`,
    MEDIA_PATH: CLIP,
    MEDIA_URL: `${mediaUrl}/jfk.flac`,
    OBJECT_KEY: 'calls/jfk.flac',
    CALLBACK_URL: `${callbackUrl}/hook`,
    PCM_PATH: pcmPath,
  };

  const stage: Stage = {
    env,
    async runClient(command, args, options = {}) {
      const { stdout, stderr, code } = await runProgram(command, args, { ...process.env, ...env }, options.cwd, options.timeoutMs ?? 600_000);
      assert.equal(code, 0, `${command} ${args.join(' ')} exited ${code}\n--- stderr ---\n${stderr.slice(-4000)}\n--- stdout ---\n${stdout.slice(-2000)}`);
      const answers = stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as ClientAnswer);
      assert.ok(answers.length > 0, `${command} printed no answers\n${stderr.slice(-2000)}`);
      for (const a of answers) {
        if (a.schema !== null) assertClovaBody(a.schema, a.body, `${a.client ?? command}: ${a.shape} (HTTP ${a.status})`);
      }
      for (const a of answers) {
        if (a.callbackFor === undefined) continue;
        const got = await stage.callbacksFor(a.callbackFor);
        assert.equal(got.length, 1, `${a.shape}: one callback for ${a.callbackFor}`);
        assertClovaBody('longformCompleted', got[0], `${a.shape}: callback body`);
      }
      return answers;
    },
    async callbacksFor(token, timeoutMs = 120_000) {
      const until = Date.now() + timeoutMs;
      while (!callbacks.has(token) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
      return callbacks.get(token) ?? [];
    },
    async close() {
      await grpc.close();
      await http.close();
      media.close();
      receiver.close();
      await s3.close();
      await engine.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return stage;
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

function runProgram(
  command: string, args: string[], env: NodeJS.ProcessEnv, cwd: string | undefined, timeoutMs: number,
): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString('utf8'); });
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString('utf8'); });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code });
    });
  });
}
