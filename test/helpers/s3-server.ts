/**
 * A real S3-compatible server for tests: versitygw (posix backend) in a temp dir on a free port,
 * installed by scripts/install-test-services.sh. Signatures are checked, so wrong credentials
 * fail as they would against a real store.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { freePort } from './ports.js';
import { registerSecrets } from './test-logs.js';

const REPO = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');

export const S3_ACCESS_KEY = 'soritestaccess';
export const S3_SECRET_KEY = 'soritestsecret123456';

export interface S3Server {
  endpoint: string;
  port: number;
  bucket: string;
  client: S3Client;
  close(): Promise<void>;
}

function binary(): string {
  const candidates = [process.env.SORI_TEST_VERSITYGW, join(REPO, '.test-tools/bin/versitygw')].filter((c): c is string => !!c);
  const found = candidates.find((c) => existsSync(c));
  if (found === undefined) {
    throw new Error('versitygw is not installed: run scripts/install-test-services.sh (scripts/test.sh does)');
  }
  return found;
}


export async function startS3(bucket = 'sori-test'): Promise<S3Server> {
  registerSecrets('s3', S3_SECRET_KEY);
  const dir = await mkdtemp(join(tmpdir(), 'sori-s3-'));
  const port = await freePort();
  const child: ChildProcess = spawn(
    binary(),
    ['--port', `127.0.0.1:${port}`, '--access', S3_ACCESS_KEY, '--secret', S3_SECRET_KEY, '--virtual-domain', 'localhost', '--quiet', 'posix', dir],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const endpoint = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      await fetch(endpoint);
      break;
    } catch {
      if (i > 200 || child.exitCode !== null) throw new Error(`versitygw did not start: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const client = new S3Client({
    endpoint, region: 'us-east-1', forcePathStyle: true,
    credentials: { accessKeyId: S3_ACCESS_KEY, secretAccessKey: S3_SECRET_KEY },
  });
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  return {
    endpoint, port, bucket, client,
    async close() {
      client.destroy();
      child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    },
  };
}
