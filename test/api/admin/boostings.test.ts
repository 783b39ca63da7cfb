import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { adminBoostingsRoutes } from '../../../src/api/admin/boostings.js';
import { AuthGate } from '../../../src/domains/auth.js';
import { DOMAIN_BOOSTINGS_FILE, DomainBoostings } from '../../../src/domains/boostings.js';
import type { DomainConfig } from '../../../src/config.js';

const limits = { shortMaxSeconds: 60, shortMaxBytes: 1 << 20, maxConcurrentStreams: 15, requestsPerSecond: 0, maxConcurrentUploads: 16 };
const domains: DomainConfig[] = [
  { name: 'church', secret: 'church-secret', defaultLanguage: 'ko', limits, boostings: ['하나님', '예수'] },
  { name: 'trains', secret: 'trains-secret', defaultLanguage: 'ko', limits },
];

let dataDir: string;
before(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'sori-boostings-'));
});
after(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

async function app(store: DomainBoostings): Promise<FastifyInstance> {
  const a = Fastify();
  await a.register(adminBoostingsRoutes, { auth: new AuthGate(domains), boostings: store });
  return a;
}

const url = (d: string): string => `/admin/domains/${d}/boostings`;

describe('domain boostings admin route', () => {
  it('serves the config file\'s set, then a replaced one that survives a restart, then the config\'s again', async () => {
    const store = await DomainBoostings.open(domains, dataDir);
    const a = await app(store);
    const key = { 'x-clovaspeech-api-key': 'church-secret' };

    let res = await a.inject({ method: 'GET', url: url('church'), headers: key });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { domain: 'church', source: 'config', count: 2, keywords: ['하나님', '예수'] });

    res = await a.inject({ method: 'PUT', url: url('church'), headers: key, payload: { boostings: [{ words: '성경, 찬송가' }, { words: '성경' }] } });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json().keywords, ['성경', '찬송가']);
    assert.equal(store.keywords('church').join(), '성경,찬송가');

    const onDisk = JSON.parse(await readFile(path.join(dataDir, DOMAIN_BOOSTINGS_FILE), 'utf8')) as Record<string, string[]>;
    assert.deepEqual(onDisk, { church: ['성경', '찬송가'] });
    const reopened = await DomainBoostings.open(domains, dataDir);
    assert.deepEqual(reopened.keywords('church'), ['성경', '찬송가']);
    assert.equal(reopened.source('church'), 'admin');

    res = await a.inject({ method: 'PUT', url: url('church'), headers: { authorization: 'Bearer church-secret' }, payload: { keywords: ['시편'] } });
    assert.deepEqual(res.json().keywords, ['시편'], 'a Bearer token works too');

    res = await a.inject({ method: 'DELETE', url: url('church'), headers: key });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { domain: 'church', source: 'config', count: 2, keywords: ['하나님', '예수'] });
    assert.deepEqual((await DomainBoostings.open(domains, dataDir)).keywords('church'), ['하나님', '예수']);
    await a.close();
  });

  it('needs that domain\'s own secret', async () => {
    const a = await app(await DomainBoostings.open(domains, undefined));
    assert.equal((await a.inject({ method: 'GET', url: url('church') })).statusCode, 401);
    assert.equal((await a.inject({ method: 'GET', url: url('church'), headers: { 'x-clovaspeech-api-key': 'wrong' } })).statusCode, 401);
    const other = await a.inject({ method: 'PUT', url: url('church'), headers: { 'x-clovaspeech-api-key': 'trains-secret' }, payload: { keywords: ['x'] } });
    assert.equal(other.statusCode, 403);
    assert.equal(other.json().error.code, 'FORBIDDEN');
    assert.equal((await a.inject({ method: 'GET', url: url('nope'), headers: { 'x-clovaspeech-api-key': 'trains-secret' } })).statusCode, 403);
    await a.close();
  });

  it('rejects malformed bodies and more than 1000 keywords', async () => {
    const store = await DomainBoostings.open(domains, undefined);
    const a = await app(store);
    const headers = { 'x-clovaspeech-api-key': 'trains-secret' };
    for (const payload of [{ words: 'a' }, { keywords: 'a,b' }, { keywords: [1] }, { keywords: ['x'.repeat(101)] }]) {
      const res = await a.inject({ method: 'PUT', url: url('trains'), headers, payload });
      assert.equal(res.statusCode, 400, JSON.stringify(payload));
    }
    const many = await a.inject({ method: 'PUT', url: url('trains'), headers, payload: { keywords: Array.from({ length: 1001 }, (_, i) => `k${i}`) } });
    assert.equal(many.statusCode, 400);
    assert.equal(many.json().error.code, 'TOO_MANY_KEYWORDS');
    assert.deepEqual(store.keywords('trains'), [], 'nothing changed');
    await a.close();
  });
});
