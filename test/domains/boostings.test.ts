/**
 * DomainBoostings over a shared store (cluster mode), with an in-memory SharedBoostings standing
 * in for PostgreSQL (the real one: test/api/admin/boostings-postgres.int.test.ts): reloads apply
 * other nodes' changes, a local change is used at once and is not undone by a reload that began
 * before it, and a failed write changes nothing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DomainConfig } from '../../src/config.js';
import { DomainBoostings, type SharedBoostings } from '../../src/domains/boostings.js';

const limits = { shortMaxSeconds: 60, shortMaxBytes: 1 << 20, maxConcurrentStreams: 15, requestsPerSecond: 0, maxConcurrentUploads: 16 };
const domains: DomainConfig[] = [
  { name: 'general', secret: 'general-secret', defaultLanguage: 'ko', limits, boostings: ['설정'] },
];

class MemoryShared implements SharedBoostings {
  readonly sets = new Map<string, string[]>();
  /** When set, load() waits for it (a reload in flight). */
  gate: Promise<void> | undefined;
  failWrites = false;

  async load(): Promise<Map<string, string[]>> {
    const snapshot = new Map(this.sets);
    await this.gate;
    return snapshot;
  }

  async save(domain: string, keywords: readonly string[]): Promise<void> {
    if (this.failWrites) throw new Error('store away');
    this.sets.set(domain, [...keywords]);
  }

  async remove(domain: string): Promise<boolean> {
    if (this.failWrites) throw new Error('store away');
    return this.sets.delete(domain);
  }
}

describe('DomainBoostings over a shared store', () => {
  it("applies other nodes' sets on reload, ignoring domains it does not know", async () => {
    const shared = new MemoryShared();
    const boostings = await DomainBoostings.openShared(domains, shared, { refreshMs: 60_000 });
    try {
      assert.deepEqual(boostings.keywords('general'), ['설정']);
      assert.equal(boostings.source('general'), 'config');
      shared.sets.set('general', ['취득']);
      shared.sets.set('removed-domain', ['x']);
      await boostings.refresh();
      assert.deepEqual(boostings.keywords('general'), ['취득']);
      assert.equal(boostings.source('general'), 'admin');
      assert.equal(boostings.has('removed-domain'), false);
      shared.sets.delete('general');
      await boostings.refresh();
      assert.equal(boostings.source('general'), 'config');
    } finally {
      boostings.close();
    }
  });

  it('a local change is used at once and survives a reload begun before it', async () => {
    const shared = new MemoryShared();
    const boostings = await DomainBoostings.openShared(domains, shared, { refreshMs: 60_000 });
    try {
      let open!: () => void;
      shared.gate = new Promise((r) => {
        open = r;
      });
      const stale = boostings.refresh();
      await boostings.set('general', [' 질량 ', '질량', '']);
      assert.deepEqual(boostings.keywords('general'), ['질량']);
      assert.deepEqual(shared.sets.get('general'), ['질량']);
      open();
      await stale;
      assert.deepEqual(boostings.keywords('general'), ['질량'], 'the stale reload did not undo it');
      shared.gate = undefined;
      await boostings.reset('general');
      assert.deepEqual(boostings.keywords('general'), ['설정']);
    } finally {
      boostings.close();
    }
  });

  it('a write the store refuses changes nothing', async () => {
    const shared = new MemoryShared();
    const boostings = await DomainBoostings.openShared(domains, shared, { refreshMs: 60_000 });
    try {
      shared.failWrites = true;
      await assert.rejects(boostings.set('general', ['토성']), /store away/);
      assert.deepEqual(boostings.keywords('general'), ['설정']);
      assert.equal(boostings.source('general'), 'config');
    } finally {
      boostings.close();
    }
  });
});
