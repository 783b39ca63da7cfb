/**
 * deploy/compose.yaml through compose-go (the loader `docker compose config` runs: the Compose
 * specification's schema, ${VAR} interpolation, references between services), built by
 * scripts/install-test-services.sh into .test-tools/bin/compose-config; deploy/haproxy.cfg
 * through `haproxy -c`; and a node's settings through src/config.ts. No Docker daemon needed.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { before, describe, it } from 'node:test';
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config.js';
import { DEPLOY, DRAIN_SECONDS, imageEnv, REPO_ROOT } from './deploy-files.js';

const run = promisify(execFile);
const COMPOSE_CONFIG = join(REPO_ROOT, '.test-tools', 'bin', 'compose-config');
const SECRETS = {
  SORI_API_KEY: 'compose-test-api-key-0123',
  POSTGRES_PASSWORD: 'compose-test-pg-password',
  MINIO_ROOT_PASSWORD: 'compose-test-minio-root',
  SORI_S3_SECRET_ACCESS_KEY: 'compose-test-s3-secret',
};

interface Service {
  image?: string;
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  volumes?: Array<{ type: string; source: string; target: string; read_only?: boolean }>;
  ports?: Array<{ target: number; published: string }>;
  stop_grace_period?: string;
  networks?: Record<string, { ipv4_address?: string } | null>;
}

let services: Record<string, Service>;

/** The environment of the test run without SORI_* and the secrets, so only `env` counts. */
function cleanEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SORI_') && !(k in SECRETS)));
  return { ...base, ...env };
}

async function composeConfig(env: Record<string, string>): Promise<string> {
  const { stdout } = await run(COMPOSE_CONFIG, [join(DEPLOY, 'compose.yaml')], { env: cleanEnv(env) });
  return stdout;
}

const NODES = ['sori1', 'sori2', 'sori3'];

before(async () => {
  services = (parse(await composeConfig(SECRETS)) as { services: Record<string, Service> }).services;
});

describe('deploy/compose.yaml', () => {
  it('is a valid Compose project: PostgreSQL, MinIO and its init, three nodes, a load balancer', () => {
    assert.deepEqual(Object.keys(services).sort(), ['lb', 'minio', 'minio-init', 'postgres', ...NODES].sort());
  });

  it('refuses to start without its secrets, naming the one missing', async () => {
    const { SORI_API_KEY: _, ...rest } = SECRETS;
    await assert.rejects(composeConfig(rest), (err: Error & { stderr?: string }) => /SORI_API_KEY/.test(err.stderr ?? ''));
  });

  it('starts the nodes after PostgreSQL is healthy and the bucket exists, the balancer after the nodes', () => {
    for (const name of NODES) {
      assert.deepEqual(services[name].depends_on, {
        postgres: { condition: 'service_healthy', required: true },
        'minio-init': { condition: 'service_completed_successfully', required: true },
      });
    }
    assert.deepEqual(services['minio-init'].depends_on, { minio: { condition: 'service_healthy', required: true } });
    for (const name of NODES) assert.equal(services.lb.depends_on?.[name]?.condition, 'service_healthy');
    for (const [name, s] of Object.entries(services)) {
      if (name !== 'minio-init') assert.ok(s.healthcheck?.test?.length, `${name} has a healthcheck`);
    }
    for (const name of NODES) assert.match(services[name].healthcheck!.test.join(' '), /\/healthz/);
  });

  it('the nodes share the secret, PostgreSQL and the bucket; each has its own data volume; models read-only', () => {
    const shared = (s: Service) => JSON.stringify(s.environment);
    for (const name of NODES) assert.equal(shared(services[name]), shared(services.sori1));
    const env = services.sori1.environment!;
    assert.equal(env.SORI_API_KEY, SECRETS.SORI_API_KEY);
    assert.equal(env.SORI_DATABASE_URL, `postgres://sori:${SECRETS.POSTGRES_PASSWORD}@postgres:5432/sori`);
    assert.equal(env.SORI_S3_ENDPOINT, 'http://minio:9000');
    const data = NODES.map((n) => services[n].volumes!.find((v) => v.target === '/var/lib/sori'));
    assert.deepEqual(data.map((v) => v?.type), ['volume', 'volume', 'volume']);
    assert.equal(new Set(data.map((v) => v?.source)).size, 3, 'one data volume per node');
    for (const n of NODES) assert.equal(services[n].volumes!.find((v) => v.target === '/models')?.read_only, true);
    // compose-go writes durations the Go way (1m0s).
    for (const n of NODES) assert.equal(services[n].stop_grace_period, `${DRAIN_SECONDS / 60}m0s`);
  });

  it('publishes HTTP and gRPC through the balancer only', () => {
    assert.deepEqual(services.lb.ports!.map((p) => [p.target, p.published]), [[8080, '8080'], [50051, '50051']]);
    for (const name of Object.keys(services)) if (name !== 'lb') assert.equal(services[name].ports, undefined, `${name} publishes nothing`);
  });

  it('a node accepts its settings: PostgreSQL, the bucket, X-Forwarded-For from the balancer only', async () => {
    const node = services.sori1;
    const configMount = node.volumes!.find((v) => v.target === node.environment!.SORI_CONFIG)!;
    assert.ok(configMount, 'SORI_CONFIG is mounted');
    const env = { ...(await imageEnv()), ...node.environment, SORI_CONFIG: configMount.source, SORI_DATA_DIR: join(REPO_ROOT, '.no-data-dir-needed') };
    const config = await loadConfig(env, { announce: () => undefined });
    assert.equal(config.database.url, node.environment!.SORI_DATABASE_URL);
    assert.equal(config.objectStorage?.bucket, 'sori');
    assert.equal(config.objectStorage?.secretAccessKey, SECRETS.SORI_S3_SECRET_ACCESS_KEY);
    assert.deepEqual(config.server.trustProxy, [services.lb.networks!.sori!.ipv4_address]);
    assert.equal(config.domains[0].secret, SECRETS.SORI_API_KEY);
  });
});

describe('deploy/haproxy.cfg', () => {
  it('is valid for HAProxy, and balances over exactly the nodes of compose.yaml', async () => {
    const cfg = join(DEPLOY, 'haproxy.cfg');
    // The node names resolve only inside compose's network: unresolved servers are warnings.
    const { stderr } = await run('haproxy', ['-c', '-f', cfg]).catch((err: Error & { stderr?: string }) => {
      throw new Error(`haproxy -c: ${err.stderr ?? err.message}`);
    });
    assert.doesNotMatch(stderr, /\[ALERT\]/);
    const text = await readFile(cfg, 'utf8');
    const servers = [...text.matchAll(/^\s*server (\S+) (\S+):(\d+)/gm)].map((m) => `${m[1]}=${m[2]}:${m[3]}`);
    assert.deepEqual(servers, [...NODES.map((n) => `${n}=${n}:8080`), ...NODES.map((n) => `${n}=${n}:50051`)]);
    assert.match(text, /monitor-uri \/lb-health/);
    assert.match(services.lb.healthcheck!.test.join(' '), /\/lb-health/);
  });
});
