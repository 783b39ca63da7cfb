import assert from 'node:assert/strict';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { ConfigError, loadConfig, loadLocalSettings, settingLeaves, type Config } from '../src/config.js';
import { tempDirs } from './helpers/temp-dirs.js';

const { fresh: freshDir } = tempDirs('sori-config-test-');

/** Loads with an announce hook that records what would go to stderr. */
async function load(env: NodeJS.ProcessEnv, cwd: string): Promise<{ config: Config; announced: string[] }> {
  const announced: string[] = [];
  const config = await loadConfig(env, { cwd, announce: (line) => announced.push(line) });
  return { config, announced };
}

async function loadError(env: NodeJS.ProcessEnv, cwd: string): Promise<ConfigError> {
  try {
    await loadConfig(env, { cwd, announce: () => {} });
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('loadConfig should have failed');
}

describe('loadConfig', () => {
  it('uses the documented defaults with no file and no env', async () => {
    const cwd = await freshDir();
    const { config } = await load({ SORI_API_KEY: 'k' }, cwd);
    assert.deepEqual(config.server, { host: '0.0.0.0', port: 8080, grpcPort: 50051, trustProxy: [], console: true, docs: true });
    assert.deepEqual(config.auth, { maxFailures: 20, windowSeconds: 60, maxAddresses: 10_000 });
    assert.equal(config.dataDir, path.join(cwd, 'data'));
    assert.deepEqual(config.models, { dir: path.join(cwd, 'models'), asr: 'whisper-base' });
    assert.deepEqual(config.engine, { threads: os.availableParallelism(), parallel: 1, batch: 1, windowBatch: 1, queueLimit: 32, beamSize: 5, streamBeamSize: 2, shortRequestContext: 'window', referenceCacheSize: 256 });
    assert.equal(config.logLevel, 'info');
    assert.equal(config.configFile, null);
    assert.deepEqual(config.domains, [
      {
        name: 'general',
        secret: 'k',
        defaultLanguage: 'ko',
        limits: { shortMaxSeconds: 60, shortMaxBytes: 10 * 1024 * 1024, maxConcurrentStreams: 15, requestsPerSecond: 0, maxConcurrentUploads: 16 },
      },
    ]);
    assert.deepEqual(config.http, {
      headersTimeoutSeconds: 30,
      requestTimeoutSeconds: 3600,
      minBodyBytesPerSecond: 1024,
      bodyRateWindowSeconds: 30,
      keepAliveTimeoutSeconds: 72,
      maxConnectionsPerAddress: 64,
    });
    assert.deepEqual(config.media, { decodeTimeoutSeconds: 120, stallTimeoutSeconds: 120, memoryLimitMb: 1024, store: 'local' });
  });

  it('reads resource bounds: HTTP timeouts, per-domain rates and uploads, ffmpeg limits', async () => {
    const cwd = await freshDir();
    await writeFile(
      path.join(cwd, 'sori.yaml'),
      [
        'http: { headersTimeoutSeconds: 5, requestTimeoutSeconds: 0, maxConnectionsPerAddress: 0 }',
        'media: { memoryLimitMb: 0, decodeTimeoutSeconds: 10 }',
        'domains:',
        '  - name: general',
        '    limits: { requestsPerSecond: 2.5, requestBurst: 10, maxConcurrentUploads: 2 }',
      ].join('\n'),
    );
    const { config } = await load({ SORI_API_KEY: 'k' }, cwd);
    assert.equal(config.http.headersTimeoutSeconds, 5);
    assert.equal(config.http.requestTimeoutSeconds, 0);
    assert.equal(config.http.maxConnectionsPerAddress, 0);
    assert.equal(config.media.memoryLimitMb, 0);
    assert.equal(config.media.stallTimeoutSeconds, 120);
    assert.deepEqual(config.domains[0].limits, {
      shortMaxSeconds: 60, shortMaxBytes: 10 * 1024 * 1024, maxConcurrentStreams: 15, requestsPerSecond: 2.5, requestBurst: 10, maxConcurrentUploads: 2,
    });
  });

  it('reads every SORI_* variable', async () => {
    const cwd = await freshDir();
    const { config } = await load(
      {
        SORI_PORT: '9000',
        SORI_HOST: '127.0.0.1',
        SORI_GRPC_PORT: '50052',
        SORI_DOCS: 'false',
        SORI_DATA_DIR: 'var/sori',
        SORI_MODELS_DIR: '/opt/models',
        SORI_MODEL: 'whisper-small',
        SORI_API_KEY: 'env-secret',
        SORI_THREADS: '3',
        SORI_PARALLEL: '2',
        SORI_BATCH: '4',
        SORI_WINDOW_BATCH: '3',
        SORI_SHORT_REQUEST_CONTEXT: 'audio',
        SORI_QUEUE_LIMIT: '7',
        SORI_BEAM_SIZE: '1',
        SORI_LOG_LEVEL: 'debug',
      },
      cwd,
    );
    assert.deepEqual(config.server, { host: '127.0.0.1', port: 9000, grpcPort: 50052, trustProxy: [], console: true, docs: false });
    assert.equal(config.dataDir, path.join(cwd, 'var/sori'));
    assert.deepEqual(config.models, { dir: '/opt/models', asr: 'whisper-small' });
    assert.deepEqual(config.engine, { threads: 3, parallel: 2, batch: 4, windowBatch: 3, queueLimit: 7, beamSize: 1, streamBeamSize: 2, shortRequestContext: 'audio', referenceCacheSize: 256 });
    assert.equal(config.logLevel, 'debug');
    assert.equal(config.domains[0].secret, 'env-secret');
  });

  it('reads every variable the schema declares, at the key it declares it for', async () => {
    const cwd = await freshDir();
    const env: NodeJS.ProcessEnv = { SORI_API_KEY: 'k' };
    const expected = new Map<string, unknown>();
    for (const leaf of settingLeaves()) {
      const name = leaf.meta?.env;
      if (name === undefined || leaf.path.includes('[]')) continue;
      const { inner } = leaf;
      let value: unknown;
      if (inner instanceof z.ZodNumber) {
        value = inner.maxValue;
        env[name] = ` ${String(value)} `;
      } else if (inner instanceof z.ZodBoolean) {
        value = leaf.default?.value !== true;
        env[name] = value ? 'yes' : 'off';
      } else if (inner instanceof z.ZodEnum) {
        value = (inner.options as string[]).find((o) => o !== leaf.default?.value);
        env[name] = String(value).toUpperCase();
      } else if (leaf.meta?.path) {
        env[name] = `rel/${name}`;
        value = path.join(cwd, 'rel', name);
      } else {
        env[name] = typeof leaf.meta?.example === 'string' ? leaf.meta.example : `value-of-${name}`;
        value = env[name];
      }
      // The two TLS files become one setting of Config.
      expected.set(leaf.path.join('.').replace(/^server\.grpcTls(Cert|Key)$/, (_, k: string) => `server.grpcTls.${k.toLowerCase()}`), value);
    }
    assert.ok(expected.size >= 20, 'the schema declares the SORI_* variables');
    const { config } = await load(env, cwd);
    for (const [key, value] of expected) {
      const actual = key.split('.').reduce<unknown>((node, k) => (node as Record<string, unknown> | undefined)?.[k], config);
      assert.deepEqual(actual, value, key);
    }
  });

  it('creates objectStorage from the environment only with SORI_S3_BUCKET, and then wants credentials', async () => {
    const cwd = await freshDir();
    assert.equal((await load({ SORI_API_KEY: 'k', SORI_S3_REGION: 'kr-standard', SORI_S3_ENDPOINT: '' }, cwd)).config.objectStorage, undefined);
    assert.match(
      (await loadError({ SORI_API_KEY: 'k', SORI_S3_BUCKET: 'b' }, cwd)).message,
      /^config error: objectStorage: accessKeyId and secretAccessKey are required \(or SORI_S3_ACCESS_KEY_ID \/ SORI_S3_SECRET_ACCESS_KEY\)$/,
    );
    const { config } = await load({ SORI_API_KEY: 'k', SORI_S3_BUCKET: 'b', SORI_S3_ACCESS_KEY_ID: 'a', SORI_S3_SECRET_ACCESS_KEY: 's' }, cwd);
    assert.deepEqual(config.objectStorage, {
      endpoint: undefined, region: 'us-east-1', bucket: 'b', accessKeyId: 'a', secretAccessKey: 's', forcePathStyle: true, resultPrefix: 'sori-results/',
      mediaPrefix: 'sori-media/',
    });

    await writeFile(path.join(cwd, 'sori.yaml'), 'objectStorage: { region: kr-standard, accessKeyId: a, secretAccessKey: s }\n');
    assert.match((await loadError({ SORI_API_KEY: 'k' }, cwd)).message, /^config error: objectStorage\.bucket: required when objectStorage is set$/);
    const merged = (await load({ SORI_API_KEY: 'k', SORI_S3_BUCKET: 'b', SORI_S3_PATH_STYLE: 'false' }, cwd)).config.objectStorage;
    assert.deepEqual([merged?.bucket, merged?.region, merged?.forcePathStyle], ['b', 'kr-standard', false]);
    assert.match((await loadError({ SORI_API_KEY: 'k', SORI_S3_ENDPOINT: 'ftp://x' }, cwd)).message, /^config error: SORI_S3_ENDPOINT: expected an http\(s\) URL, got "ftp:\/\/x"$/);
  });

  it('takes the PostgreSQL job store from SORI_DATABASE_URL, refusing another scheme without echoing the URL', async () => {
    const cwd = await freshDir();
    assert.equal((await load({ SORI_API_KEY: 'k' }, cwd)).config.database.url, undefined);
    const url = 'postgres://sori:pa%2Fss@db.internal:5432/sori';
    const { config } = await load({ SORI_API_KEY: 'k', SORI_DATABASE_URL: url, SORI_DATABASE_POOL_SIZE: '20' }, cwd);
    assert.deepEqual(config.database, { url, poolSize: 20, notifyFallbackSeconds: 10 });
    assert.equal((await load({ SORI_API_KEY: 'k', SORI_DATABASE_URL: 'postgresql://h/db' }, cwd)).config.database.url, 'postgresql://h/db');
    const err = await loadError({ SORI_API_KEY: 'k', SORI_DATABASE_URL: 'mysql://root:hunter2@h/db' }, cwd);
    assert.equal(err.message, 'config error: SORI_DATABASE_URL: expected a postgres:// URL');
  });

  it('keeps uploads in the bucket in cluster mode (PostgreSQL and object storage), on disk otherwise, and refuses what cannot work', async () => {
    const cwd = await freshDir();
    const s3 = { SORI_S3_BUCKET: 'b', SORI_S3_ACCESS_KEY_ID: 'a', SORI_S3_SECRET_ACCESS_KEY: 's' };
    const db = { SORI_DATABASE_URL: 'postgres://sori:pw@db.internal:5432/sori' };
    const store = async (env: Record<string, string>) => (await load({ SORI_API_KEY: 'k', ...env }, cwd)).config.media.store;
    assert.equal(await store({}), 'local');
    assert.equal(await store(s3), 'local', 'one node with a bucket for dataKey and resultToObs');
    assert.equal(await store(db), 'local', 'PostgreSQL without a bucket: nodes share a data dir, or run alone');
    assert.equal(await store({ ...db, ...s3 }), 's3');
    assert.equal(await store({ ...db, ...s3, SORI_MEDIA_STORE: 'local' }), 'local', 'said explicitly');
    assert.equal(await store({ ...s3, SORI_MEDIA_STORE: 's3' }), 's3');
    assert.equal(
      (await loadError({ SORI_API_KEY: 'k', ...db, SORI_MEDIA_STORE: 's3' }, cwd)).message,
      'config error: media.store: s3 needs objectStorage (a bucket and credentials, or SORI_S3_BUCKET and SORI_S3_ACCESS_KEY_ID / SORI_S3_SECRET_ACCESS_KEY)',
    );
    assert.match((await loadError({ SORI_API_KEY: 'k', SORI_MEDIA_STORE: 'nfs' }, cwd)).message, /^config error: SORI_MEDIA_STORE: /);
    await writeFile(path.join(cwd, 'sori.yaml'), `longform: { maxBytes: ${6 * 1024 ** 3} }\n`);
    assert.match((await loadError({ SORI_API_KEY: 'k', ...db, ...s3 }, cwd)).message, /^config error: longform\.maxBytes: at most 5368709120 with media\.store: s3/);
    await writeFile(path.join(cwd, 'sori.yaml'), 'objectStorage: { mediaPrefix: uploads/ }\n');
    assert.equal((await load({ SORI_API_KEY: 'k', ...db, ...s3 }, cwd)).config.objectStorage?.mediaPrefix, 'uploads/');
  });

  it('lets a PostgreSQL node run no jobs (jobs.workers: 0), never a SQLite one', async () => {
    const cwd = await freshDir();
    const db = { SORI_DATABASE_URL: 'postgres://sori:pw@db.internal:5432/sori' };
    assert.equal((await load({ SORI_API_KEY: 'k', ...db, SORI_JOB_WORKERS: '0' }, cwd)).config.jobs.workers, 0);
    assert.equal(
      (await loadError({ SORI_API_KEY: 'k', SORI_JOB_WORKERS: '0' }, cwd)).message,
      "config error: jobs.workers: 0 needs database.url (PostgreSQL): with SQLite no other node would run this node's jobs",
    );
  });

  it('resolves the gRPC TLS files against the file or the working directory, and wants both', async () => {
    const cwd = await freshDir();
    await mkdir(path.join(cwd, 'etc'));
    await writeFile(path.join(cwd, 'etc', 'sori.yaml'), 'server: { grpcTlsCert: tls/cert.pem, grpcTlsKey: tls/key.pem }\n');
    const fromFile = (await load({ SORI_API_KEY: 'k', SORI_CONFIG: 'etc/sori.yaml' }, cwd)).config;
    assert.deepEqual(fromFile.server.grpcTls, { cert: path.join(cwd, 'etc/tls/cert.pem'), key: path.join(cwd, 'etc/tls/key.pem') });
    const fromEnv = (await load({ SORI_API_KEY: 'k', SORI_CONFIG: 'etc/sori.yaml', SORI_GRPC_TLS_KEY: 'k.pem' }, cwd)).config;
    assert.deepEqual(fromEnv.server.grpcTls, { cert: path.join(cwd, 'etc/tls/cert.pem'), key: path.join(cwd, 'k.pem') });
    assert.match((await loadError({ SORI_API_KEY: 'k', SORI_GRPC_TLS_CERT: 'c.pem' }, await freshDir())).message, /gRPC TLS needs both a certificate and a key/);
  });

  it('reports a bad value of the file even where the environment overrides it', async () => {
    const cwd = await freshDir();
    await writeFile(path.join(cwd, 'sori.yaml'), 'server: { port: eighty }\n');
    assert.match((await loadError({ SORI_API_KEY: 'k', SORI_PORT: '9000' }, cwd)).message, /^config error: server\.port: expected number, received string \(in /);
  });

  it('applies one range to a setting, from the file or the environment', async () => {
    for (const [key, name, tooBig] of [['threads', 'SORI_THREADS', 1025], ['parallel', 'SORI_PARALLEL', 1025], ['batch', 'SORI_BATCH', 65], ['queueLimit', 'SORI_QUEUE_LIMIT', 1_000_001]] as const) {
      const cwd = await freshDir();
      assert.match((await loadError({ SORI_API_KEY: 'k', [name]: String(tooBig) }, cwd)).message, new RegExp(`^config error: ${name}: expected an integer from \\d+ to ${tooBig - 1}, got "${tooBig}"$`));
      await writeFile(path.join(cwd, 'sori.json'), JSON.stringify({ engine: { [key]: tooBig } }));
      assert.match((await loadError({ SORI_API_KEY: 'k' }, cwd)).message, new RegExp(`^config error: engine\\.${key}: Too big`));
    }
    const cwd = await freshDir();
    await writeFile(path.join(cwd, 'sori.json'), JSON.stringify({ jobs: { workers: 65 } }));
    assert.match((await loadError({ SORI_API_KEY: 'k' }, cwd)).message, /^config error: jobs\.workers: Too big/);
  });

  it('reads sori.yaml from the working directory, and env overrides it', async () => {
    const cwd = await freshDir();
    await writeFile(
      path.join(cwd, 'sori.yaml'),
      [
        'server: { host: 127.0.0.1, port: 9100, grpcPort: 50100 }',
        'dataDir: state',
        'models: { dir: weights, asr: whisper-tiny }',
        'engine: { threads: 2, parallel: 1, queueLimit: 4, beamSize: 3, streamBeamSize: 1 }',
        'domains:',
        '  - name: general',
        '    secret: file-secret',
        '  - name: callcenter',
        '    secret: cc-secret',
        '    defaultLanguage: en',
        '    limits: { shortMaxSeconds: 30 }',
      ].join('\n'),
    );
    const fromFile = (await load({}, cwd)).config;
    assert.equal(fromFile.configFile, path.join(cwd, 'sori.yaml'));
    assert.deepEqual(fromFile.server, { host: '127.0.0.1', port: 9100, grpcPort: 50100, trustProxy: [], console: true, docs: true });
    assert.equal(fromFile.dataDir, path.join(cwd, 'state'));
    assert.deepEqual(fromFile.models, { dir: path.join(cwd, 'weights'), asr: 'whisper-tiny' });
    assert.deepEqual(fromFile.engine, { threads: 2, parallel: 1, batch: 1, windowBatch: 1, queueLimit: 4, beamSize: 3, streamBeamSize: 1, shortRequestContext: 'window', referenceCacheSize: 256 });
    assert.deepEqual(
      fromFile.domains.map((d) => [d.name, d.secret, d.defaultLanguage, d.limits.shortMaxSeconds, d.limits.shortMaxBytes]),
      [
        ['general', 'file-secret', 'ko', 60, 10 * 1024 * 1024],
        ['callcenter', 'cc-secret', 'en', 30, 10 * 1024 * 1024],
      ],
    );

    const overridden = (await load({ SORI_PORT: '9200', SORI_MODEL: 'whisper-base', SORI_API_KEY: 'env-secret', SORI_QUEUE_LIMIT: '0' }, cwd))
      .config;
    assert.equal(overridden.server.port, 9200);
    assert.equal(overridden.server.host, '127.0.0.1', 'values env does not set still come from the file');
    assert.equal(overridden.models.asr, 'whisper-base');
    assert.equal(overridden.engine.queueLimit, 0);
    assert.equal(overridden.domains[0].secret, 'env-secret');
    assert.equal(overridden.domains[1].secret, 'cc-secret');
  });

  it('reads a JSON file named by SORI_CONFIG, resolving its paths against the file', async () => {
    const cwd = await freshDir();
    const confDir = path.join(cwd, 'etc');
    await mkdir(confDir);
    await writeFile(
      path.join(confDir, 'custom.json'),
      JSON.stringify({ dataDir: '../data2', models: { dir: 'm' }, domains: [{ name: 'b2b', secret: 'x', defaultLanguage: 'ja' }] }),
    );
    const { config } = await load({ SORI_CONFIG: 'etc/custom.json', SORI_API_KEY: 'k' }, cwd);
    assert.equal(config.configFile, path.join(confDir, 'custom.json'));
    assert.equal(config.dataDir, path.join(cwd, 'data2'));
    assert.equal(config.models.dir, path.join(confDir, 'm'));
    assert.deepEqual(config.domains.map((d) => [d.name, d.defaultLanguage]), [['general', 'ko'], ['b2b', 'ja']]);
  });

  it('generates the default secret once (0600, 32+ bytes), announces it once, and reuses it', async () => {
    const cwd = await freshDir();
    const first = await load({}, cwd);
    const secret = first.config.domains[0].secret;
    assert.match(secret, /^[A-Za-z0-9_-]{43,}$/, 'base64url of at least 32 random bytes');
    assert.equal(first.announced.length, 1);
    assert.ok(first.announced[0].includes(secret), 'the operator sees the secret to copy it');

    const file = path.join(cwd, 'data', 'secret');
    assert.equal((await readFile(file, 'utf8')).trim(), secret);
    assert.equal((await stat(file)).mode & 0o777, 0o600);

    const second = await load({}, cwd);
    assert.equal(second.config.domains[0].secret, secret);
    assert.deepEqual(second.announced, [], 'a reused secret is not printed again');

    const viaEnv = await load({ SORI_API_KEY: 'explicit' }, cwd);
    assert.equal(viaEnv.config.domains[0].secret, 'explicit', 'SORI_API_KEY beats the stored secret');
  });

  it('does not generate a secret when env or file gives one', async () => {
    const cwd = await freshDir();
    await writeFile(path.join(cwd, 'sori.json'), JSON.stringify({ domains: [{ name: 'general', secret: 's' }] }));
    const { config, announced } = await load({}, cwd);
    assert.equal(config.domains[0].secret, 's');
    assert.deepEqual(announced, []);
    await assert.rejects(stat(path.join(cwd, 'data', 'secret')), { code: 'ENOENT' });
  });

  it('names the bad field of a bad file', async () => {
    const cwd = await freshDir();
    await writeFile(
      path.join(cwd, 'sori.yaml'),
      'domains:\n  - name: general\n    secret: a\n  - name: other\n    secret: 123\n',
    );
    const err = await loadError({}, cwd);
    assert.match(err.message, /^config error: domains\[1\]\.secret: expected string/);
    assert.ok(err.message.includes(path.join(cwd, 'sori.yaml')), 'the message says which file');
  });

  it('names unknown keys, wrong types and out-of-range values', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ server: { prot: 1 } }, /config error: server: Unrecognized key: "prot"/],
      [{ server: { port: '80' } }, /config error: server\.port: expected number, received string/],
      [{ engine: { parallel: 0 } }, /config error: engine\.parallel: /],
      [{ domains: [{ name: 'x', secret: 's', defaultLanguage: 'fr' }] }, /config error: domains\[0\]\.defaultLanguage: /],
      [{ domains: [{ name: 'x', secret: 's', limits: { shortMaxBytes: -1 } }] }, /config error: domains\[0\]\.limits\.shortMaxBytes: /],
      [{ domains: [{ name: 'x' }] }, /config error: domains\[0\]\.secret: expected string/],
      [{ domains: [{ name: 'x', secret: 'a' }, { name: 'x', secret: 'b' }] }, /config error: domains\[1\]\.name: duplicate domain name "x"/],
      [[1, 2], /config error: \(root\): expected object/],
      [{ http: { headersTimeoutSeconds: 120, requestTimeoutSeconds: 60 } }, /config error: http\.headersTimeoutSeconds: headersTimeoutSeconds must not exceed requestTimeoutSeconds/],
      [{ http: { maxConnectionsPerAddress: -1 } }, /config error: http\.maxConnectionsPerAddress: /],
      [{ media: { memoryLimitMb: 1.5 } }, /config error: media\.memoryLimitMb: /],
      [{ domains: [{ name: 'x', secret: 's', limits: { requestBurst: 0 } }] }, /config error: domains\[0\]\.limits\.requestBurst: /],
    ];
    for (const [content, expected] of cases) {
      const cwd = await freshDir();
      await writeFile(path.join(cwd, 'sori.json'), JSON.stringify(content));
      const err = await loadError({ SORI_API_KEY: 'k' }, cwd);
      assert.match(err.message, expected, `for ${JSON.stringify(content)}`);
    }
  });

  it('reads a domain\'s registered boosting keywords, as a list or comma-separated, at most 1000', async () => {
    const cwd = await freshDir();
    await writeFile(
      path.join(cwd, 'sori.yaml'),
      ['domains:', '  - name: church', '    secret: c', '    boostings: [하나님, " 예수 ", 하나님]', '  - name: trains', '    secret: t', '    boostings: "서울역,부산역"'].join('\n'),
    );
    const { config } = await load({ SORI_API_KEY: 'k' }, cwd);
    assert.deepEqual(config.domains.map((d) => [d.name, d.boostings]), [['general', undefined], ['church', ['하나님', '예수']], ['trains', ['서울역', '부산역']]]);

    const tooMany = await freshDir();
    await writeFile(path.join(tooMany, 'sori.json'), JSON.stringify({ domains: [{ name: 'x', secret: 's', boostings: Array.from({ length: 1001 }, (_, i) => `k${i}`) }] }));
    assert.match((await loadError({ SORI_API_KEY: 'k' }, tooMany)).message, /config error: domains\[0\]\.boostings: at most 1000 keywords/);
  });

  it('refuses two domains with the same secret without printing the secret', async () => {
    const cwd = await freshDir();
    await writeFile(path.join(cwd, 'sori.json'), JSON.stringify({ domains: [{ name: 'a', secret: 'same-secret-value' }] }));
    const err = await loadError({ SORI_API_KEY: 'same-secret-value' }, cwd);
    assert.match(err.message, /"general" and "a" have the same secret/);
    assert.ok(!err.message.includes('same-secret-value'));
  });

  it('takes previous secrets for a rotation: from the file, and SORI_API_KEY_PREVIOUS for the default domain', async () => {
    const cwd = await freshDir();
    await writeFile(
      path.join(cwd, 'sori.yaml'),
      ['domains:', '  - name: general', '    secret: new-general', '    previousSecrets: [old-general]',
        '  - name: cc', '    secret: new-cc', '    previousSecrets: [old-cc, older-cc]', '  - name: plain', '    secret: p'].join('\n'),
    );
    const { config } = await load({}, cwd);
    assert.deepEqual(config.domains.map((d) => [d.name, d.secret, d.previousSecrets]), [
      ['general', 'new-general', ['old-general']],
      ['cc', 'new-cc', ['old-cc', 'older-cc']],
      ['plain', 'p', undefined],
    ]);
    const fromEnv = (await load({ SORI_API_KEY: 'env-new', SORI_API_KEY_PREVIOUS: 'env-old' }, cwd)).config;
    assert.deepEqual([fromEnv.domains[0].secret, fromEnv.domains[0].previousSecrets], ['env-new', ['env-old']]);
    assert.deepEqual(fromEnv.domains[1].previousSecrets, ['old-cc', 'older-cc'], 'the variable is the default domain\'s only');
  });

  it('refuses a previous secret that another secret already is, naming the entries, never the secret', async () => {
    const cases: Array<[string, unknown[], RegExp]> = [
      ['its own secret', [{ name: 'a', secret: 'dup-value-1', previousSecrets: ['dup-value-1'] }], /"a" and "a" \(previousSecrets\[0\]\) have the same secret/],
      ['another domain\'s', [{ name: 'a', secret: 'dup-value-1' }, { name: 'b', secret: 's-b', previousSecrets: ['dup-value-1'] }], /"a" and "b" \(previousSecrets\[0\]\)/],
      ['another previous one', [{ name: 'a', secret: 's-a', previousSecrets: ['dup-value-1'] }, { name: 'b', secret: 's-b', previousSecrets: ['x', 'dup-value-1'] }],
        /"a" \(previousSecrets\[0\]\) and "b" \(previousSecrets\[1\]\)/],
    ];
    for (const [what, domains, expected] of cases) {
      const cwd = await freshDir();
      await writeFile(path.join(cwd, 'sori.json'), JSON.stringify({ domains }));
      const err = await loadError({ SORI_API_KEY: 'k' }, cwd);
      assert.match(err.message, expected, what);
      assert.ok(!err.message.includes('dup-value-1'), what);
    }
    const cwd = await freshDir();
    await writeFile(path.join(cwd, 'sori.json'), JSON.stringify({ domains: [{ name: 'a', secret: 's', previousSecrets: ['1', '2', '3', '4', '5'] }] }));
    assert.match((await loadError({ SORI_API_KEY: 'k' }, cwd)).message, /domains\[0\]\.previousSecrets: at most 4 previous secrets/);
    const general = await freshDir();
    assert.match((await loadError({ SORI_API_KEY: 'k', SORI_API_KEY_PREVIOUS: 'k' }, general)).message, /"general" and "general" \(previousSecrets\[0\]\)/);
  });

  it('reads the auth throttle and the trusted proxies, refusing an entry that is no address or range', async () => {
    const cwd = await freshDir();
    await writeFile(path.join(cwd, 'sori.yaml'), 'server:\n  trustProxy: [127.0.0.1, "10.0.0.0/8", "::1", "fd00::/8"]\nauth:\n  maxFailures: 5\n  maxAddresses: 100\n');
    const { config } = await load({ SORI_API_KEY: 'k', SORI_AUTH_WINDOW_SECONDS: '30' }, cwd);
    assert.deepEqual(config.server.trustProxy, ['127.0.0.1', '10.0.0.0/8', '::1', 'fd00::/8']);
    assert.deepEqual(config.auth, { maxFailures: 5, windowSeconds: 30, maxAddresses: 100 });
    for (const bad of ['proxy.internal', '10.0.0.0/33', '10.1', '1.2.3.4/8/1']) {
      const dir = await freshDir();
      await writeFile(path.join(dir, 'sori.json'), JSON.stringify({ server: { trustProxy: [bad] } }));
      assert.match((await loadError({ SORI_API_KEY: 'k' }, dir)).message, new RegExp(`^config error: server\\.trustProxy: "${bad.replace(/[./]/g, '\\$&')}" is not an IP address or a CIDR range$`), bad);
    }
  });

  it('rejects malformed files, bad env values and a missing SORI_CONFIG file', async () => {
    const cwd = await freshDir();
    await writeFile(path.join(cwd, 'sori.yaml'), 'server: [unclosed');
    assert.match((await loadError({}, cwd)).message, /sori\.yaml is not valid YAML/);

    const clean = await freshDir();
    assert.match((await loadError({ SORI_PORT: 'eighty', SORI_API_KEY: 'k' }, clean)).message, /config error: SORI_PORT: expected an integer/);
    assert.match((await loadError({ SORI_PORT: '70000', SORI_API_KEY: 'k' }, clean)).message, /SORI_PORT/);
    assert.match((await loadError({ SORI_LOG_LEVEL: 'loud', SORI_API_KEY: 'k' }, clean)).message, /SORI_LOG_LEVEL/);
    assert.match((await loadError({ SORI_CONFIG: 'nope.yaml', SORI_API_KEY: 'k' }, clean)).message, /SORI_CONFIG: file not found/);
  });

  it('loads config.example.yaml as shipped', async () => {
    const example = fileURLToPath(new URL('../config.example.yaml', import.meta.url));
    const { config } = await load({ SORI_CONFIG: example, SORI_API_KEY: 'k' }, await freshDir());
    assert.equal(config.configFile, example);
    assert.deepEqual(config.domains.map((d) => d.name), ['general']);
    assert.equal(config.server.port, 8080);
  });

  it('treats empty environment variables as unset', async () => {
    const cwd = await freshDir();
    const { config } = await load({ SORI_PORT: '', SORI_API_KEY: 'k', SORI_LOG_LEVEL: ' ' }, cwd);
    assert.equal(config.server.port, 8080);
    assert.equal(config.logLevel, 'info');
  });
});

describe('loadLocalSettings (sori transcribe in-process)', () => {
  it('reads what loadConfig reads, without secrets: nothing generated, nothing written', async () => {
    const cwd = await freshDir();
    const settings = await loadLocalSettings({ SORI_BEAM_SIZE: '2' }, { cwd });
    assert.equal(settings.engine.beamSize, 2);
    assert.equal(settings.defaultLanguage, 'ko');
    assert.equal('domains' in settings, false);
    await assert.rejects(stat(path.join(cwd, 'data')), { code: 'ENOENT' });
  });

  it('the default domain\'s language from the config file', async () => {
    const cwd = await freshDir();
    await writeFile(path.join(cwd, 'sori.yaml'), 'domains:\n  - name: general\n    defaultLanguage: en\n  - name: other\n    secret: other-secret-value\n    defaultLanguage: ja\n');
    assert.equal((await loadLocalSettings({}, { cwd })).defaultLanguage, 'en');
  });
});
