/**
 * deploy/Dockerfile without a Docker daemon: what it copies exists and passes its
 * .dockerignore, the image runs node as a non-root user under tini, checks /healthz, stops on
 * SIGTERM, and carries no model.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DEPLOY, dockerfileInstructions, imageEnv, REPO_ROOT } from './deploy-files.js';

describe('deploy/Dockerfile', () => {
  it('builds in one stage and runs in another, from a Debian bookworm-slim Node image', async () => {
    const froms = (await dockerfileInstructions()).filter((i) => i.keyword === 'FROM');
    assert.equal(froms.length, 2);
    for (const f of froms) assert.match(f.args, /^node:\$\{NODE_VERSION\}-bookworm-slim\b/);
  });

  it('copies only files that exist and that its .dockerignore lets through', async () => {
    const ignore = (await readFile(join(DEPLOY, 'Dockerfile.dockerignore'), 'utf8')).split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    assert.equal(ignore[0], '*', 'everything excluded first');
    const allowed = ignore.slice(1).map((l) => l.replace(/^!/, '').replace(/\/$/, ''));
    const copies = (await dockerfileInstructions()).filter((i) => i.keyword === 'COPY' && !i.args.startsWith('--from'));
    assert.ok(copies.length >= 4);
    for (const c of copies) {
      const sources = c.args.split(/\s+/).slice(0, -1);
      for (const s of sources) {
        assert.ok(existsSync(join(REPO_ROOT, s)), `${s} exists`);
        assert.ok(allowed.includes(s.replace(/\/$/, '')), `${s} is let through by Dockerfile.dockerignore`);
      }
    }
  });

  it('runs dist/main.js under tini as the node user, checks /healthz, stops on SIGTERM', async () => {
    const ins = await dockerfileInstructions();
    const last = (k: string) => ins.filter((i) => i.keyword === k).at(-1)?.args ?? '';
    assert.equal(last('USER'), 'node');
    assert.equal(last('STOPSIGNAL'), 'SIGTERM');
    assert.deepEqual(JSON.parse(last('ENTRYPOINT')), ['tini', '--']);
    assert.deepEqual(JSON.parse(last('CMD')), ['node', '--max-semi-space-size=2', 'dist/main.js']);
    assert.ok(existsSync(join(REPO_ROOT, 'src', 'main.ts')), 'dist/main.js is built from src/main.ts');
    assert.match(last('HEALTHCHECK'), /\/healthz/);
    assert.match(last('HEALTHCHECK'), /--start-period=\d+s/);
    const run = ins.filter((i) => i.keyword === 'RUN').map((i) => i.args).join('\n');
    assert.match(run, /npm ci --omit=dev/);
    assert.match(run, /apt-get install[^\n]*\bffmpeg\b/);
  });

  it('keeps state and models outside the image', async () => {
    const env = await imageEnv();
    assert.equal(env.SORI_MODELS_DIR, '/models');
    assert.equal(env.SORI_DATA_DIR, '/var/lib/sori');
    assert.equal(env.SORI_HOST, '0.0.0.0');
    const copies = (await dockerfileInstructions()).filter((i) => i.keyword === 'COPY').map((i) => i.args);
    assert.ok(!copies.some((c) => /models/.test(c)), 'no model copied in');
  });
});
