/**
 * The generic leased-work loop on its own: items are plain strings, the "store" is an array, so
 * every behaviour (claiming, renewing, losing the lease, deadlines, closing, surviving a failing
 * item) is seen directly and in about a second.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/logger.js';
import { logDestination } from '../helpers/test-logs.js';
import { LeasedWorker, renewalIntervalMs, type Lease, type LeasedWork } from '../../src/jobs/leased-worker.js';
import { LocalJobQueue } from '../../src/jobs/queue.js';

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves once `condition` holds, polling; fails the test after `timeoutMs`. */
async function until(condition: () => boolean, timeoutMs = 3000): Promise<void> {
  for (const start = Date.now(); !condition(); await pause(10)) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not reached in time');
  }
}

interface Claim {
  owner: string;
  leaseMs: number;
}

/** Work over a list of items; each is processed by `run` (default: done at once). */
class ListWork implements LeasedWork<string> {
  readonly claims: Claim[] = [];
  readonly processed: string[] = [];
  readonly leases = new Map<string, Lease>();
  renew?: LeasedWork<string>['renew'];
  deadline?: LeasedWork<string>['deadline'];

  constructor(
    readonly pending: string[],
    private readonly run: (item: string, lease: Lease) => Promise<void> = async () => undefined,
  ) {}

  async claim(owner: string, leaseMs: number): Promise<string | undefined> {
    const item = this.pending.shift();
    if (item !== undefined) this.claims.push({ owner, leaseMs });
    return item;
  }

  async process(item: string, lease: Lease): Promise<void> {
    this.leases.set(item, lease);
    await this.run(item, lease);
    this.processed.push(item);
  }

  key(item: string): string {
    return item;
  }

  logFields(item: string): Record<string, unknown> {
    return { item };
  }
}

/** Work that runs until its lease's signal aborts, then reports why. */
function untilAborted(ended: Map<string, { reason: unknown; interrupted: boolean }>) {
  return (item: string, lease: Lease) =>
    new Promise<void>((resolve) => {
      lease.signal.addEventListener('abort', () => {
        ended.set(item, { reason: lease.signal.reason, interrupted: lease.interrupted });
        resolve();
      }, { once: true });
    });
}

function setup(work: LeasedWork<string>, options: { slots?: number; leaseMs?: number } = {}) {
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', destination: logDestination('leased-worker', (line) => void lines.push(line)) });
  const queue = new LocalJobQueue();
  const worker = new LeasedWorker(work, {
    name: 'task',
    slots: options.slots ?? 1,
    leaseMs: options.leaseMs ?? 60_000,
    wait: (pollMs, signal) => queue.wait(pollMs, signal),
    logger,
  });
  return { worker, queue, logText: () => lines.join('') };
}

describe('LeasedWorker', () => {
  it('claims every item under its own owner id and lease, one per slot at a time', async () => {
    let running = 0;
    let mostAtOnce = 0;
    const work = new ListWork(['a', 'b', 'c', 'd', 'e'], async () => {
      running++;
      mostAtOnce = Math.max(mostAtOnce, running);
      await pause(20);
      running--;
    });
    const { worker } = setup(work, { slots: 2, leaseMs: 5000 });
    worker.start();
    await until(() => work.processed.length === 5);
    await worker.close();
    assert.deepEqual([...work.processed].sort(), ['a', 'b', 'c', 'd', 'e']);
    assert.equal(mostAtOnce, 2);
    assert.ok(work.claims.every((c) => c.owner === worker.owner && c.leaseMs === 5000));
  });

  it('wakes on a notification for work that arrives while it idles', async () => {
    const work = new ListWork([]);
    const { worker, queue } = setup(work);
    worker.start();
    await pause(50);
    work.pending.push('late');
    const notified = Date.now();
    await queue.notify();
    await until(() => work.processed.length === 1);
    assert.ok(Date.now() - notified < 500, 'picked up on the wake-up, not the next poll');
    await worker.close();
  });

  it('renews the lease while the work runs, with the progress the work reports', async () => {
    const renewals: Array<{ item: string; owner: string; leaseMs: number; progress: number }> = [];
    const work = new ListWork(['slow'], async (_item, lease) => {
      lease.progress = 40;
      await until(() => renewals.length >= 2);
    });
    work.renew = async (item: string, lease: Lease, leaseMs: number) => {
      renewals.push({ item, owner: lease.owner, leaseMs, progress: lease.progress });
      return true;
    };
    const leaseMs = 1500;
    assert.equal(renewalIntervalMs(leaseMs), 500);
    const { worker } = setup(work, { leaseMs });
    worker.start();
    await until(() => work.processed.length === 1);
    const count = renewals.length;
    await pause(600);
    await worker.close();
    assert.deepEqual(renewals[0], { item: 'slow', owner: worker.owner, leaseMs, progress: 40 });
    assert.equal(renewals.length, count, 'no renewal once the work has ended');
  });

  it('renews every 2 s on long leases, every third of the lease on shorter ones, never faster than every 500 ms', () => {
    assert.equal(renewalIntervalMs(30_000), 2000);
    assert.equal(renewalIntervalMs(3000), 1000);
    assert.equal(renewalIntervalMs(600), 500);
  });

  it('aborts the work when a renewal finds the lease gone: interrupted, to be resumed elsewhere', async () => {
    const ended = new Map<string, { reason: unknown; interrupted: boolean }>();
    const work = new ListWork(['taken'], untilAborted(ended));
    work.renew = async () => false;
    const { worker } = setup(work, { leaseMs: 1500 });
    worker.start();
    await until(() => ended.has('taken'));
    await worker.close();
    assert.equal((ended.get('taken')?.reason as Error).message, 'lease lost');
    assert.equal(ended.get('taken')?.interrupted, true);
  });

  it('aborts the work with the deadline\'s error once it has passed: not an interruption', async () => {
    const ended = new Map<string, { reason: unknown; interrupted: boolean }>();
    const work = new ListWork(['late'], untilAborted(ended));
    const renewed: string[] = [];
    work.renew = async (item: string) => {
      renewed.push(item);
      return true;
    };
    work.deadline = () => ({ at: Date.now() - 1, error: () => new Error('too late') });
    const { worker } = setup(work, { leaseMs: 1500 });
    worker.start();
    await until(() => ended.has('late'));
    await worker.close();
    assert.equal((ended.get('late')?.reason as Error).message, 'too late');
    assert.equal(ended.get('late')?.interrupted, false);
    assert.deepEqual(renewed, [], 'a lease past its deadline is not renewed');
  });

  it('close aborts the work in progress, stops claiming, and resolves once the slots have stopped', async () => {
    const ended = new Map<string, { reason: unknown; interrupted: boolean }>();
    const work = new ListWork(['running', 'next'], untilAborted(ended));
    const { worker } = setup(work);
    worker.start();
    await until(() => worker.isRunning('running'));
    assert.equal(worker.isRunning('next'), false);
    await worker.close();
    assert.equal(ended.get('running')?.interrupted, true);
    assert.equal((ended.get('running')?.reason as Error).message, 'server shutting down');
    assert.equal(worker.isRunning('running'), false);
    assert.deepEqual(work.pending, ['next'], 'nothing claimed after close');
  });

  it('a failing item is logged and the slot goes on; so does a failing claim', async () => {
    const work = new ListWork(['bad', 'good'], async (item) => {
      if (item === 'bad') throw new Error('broken item');
    });
    const claim = work.claim.bind(work);
    let claimFailed = false;
    work.claim = async (owner: string, leaseMs: number) => {
      if (!claimFailed) {
        claimFailed = true;
        throw new Error('store unavailable');
      }
      return claim(owner, leaseMs);
    };
    const { worker, logText } = setup(work);
    worker.start();
    await until(() => work.processed.includes('good'), 5000);
    await worker.close();
    assert.deepEqual(work.processed, ['good']);
    assert.match(logText(), /"item":"bad".*"msg":"task failed unexpectedly"/);
    assert.match(logText(), /store unavailable.*"msg":"claiming a task failed"/);
  });

  it('aborts what an item left running once its work ends, whether it succeeded or failed', async () => {
    const work = new ListWork(['ok', 'bad'], async (item) => {
      if (item === 'bad') throw new Error('broken item');
    });
    const { worker } = setup(work);
    worker.start();
    await until(() => work.leases.size === 2 && [...work.leases.values()].every((l) => l.signal.aborted), 5000);
    await worker.close();
    for (const [item, lease] of work.leases) assert.match(String((lease.signal.reason as Error).message), /ended/, item);
  });
});
