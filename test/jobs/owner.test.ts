import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { describe, it } from 'node:test';
import { isDeadLocalOwner, newOwnerId, processStart } from '../../src/jobs/owner.js';

const NS = /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))![1];
const id = (pid: number, start: string | number, ns = NS) => `${hostname()}:${pid}:s${start}.n${ns}.00000000`;

describe('lease owners', () => {
  it('names host, pid, start time and pid namespace', () => {
    const own = newOwnerId();
    assert.match(own, new RegExp(`^${hostname()}:${process.pid}:s\\d+\\.n${NS}\\.[0-9a-f]{8}$`));
    assert.notEqual(newOwnerId(), own, 'a nonce tells two workers of one process apart');
  });

  it('a live process of this namespace is alive, this one and others', async () => {
    const self = newOwnerId();
    assert.equal(isDeadLocalOwner(self, self), false);
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 10000)']);
    try {
      await new Promise((r) => child.once('spawn', r));
      assert.equal(isDeadLocalOwner(id(child.pid!, processStart(child.pid!)!), self), false);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('a process that ended is dead, and so is an earlier process whose pid another one now has', async () => {
    const self = newOwnerId();
    const child = spawn(process.execPath, ['-e', '']);
    await new Promise((r) => child.once('exit', r));
    assert.equal(isDeadLocalOwner(id(child.pid!, 12345), self), true);
    assert.equal(isDeadLocalOwner(id(process.pid, 1), self), true, 'this pid, another start time');
  });

  it('leaves alone what it cannot see: another host, another pid namespace (a container), no start time', () => {
    const self = newOwnerId();
    assert.equal(isDeadLocalOwner(`not-${hostname()}:1:s1.n${NS}.00000000`, self), false);
    // Containers sharing a hostname number their processes alike: pid 1 here is not pid 1 there.
    assert.equal(isDeadLocalOwner(id(process.pid, 1, '1'), self), false);
    assert.equal(isDeadLocalOwner(id(999_999, 1, '1'), self), false);
    assert.equal(isDeadLocalOwner(id(999_999, 0), self), false);
  });

  it('reads the ids of earlier versions (host:pid:nonce) by the pid alone', async () => {
    const self = newOwnerId();
    assert.equal(isDeadLocalOwner(`${hostname()}:${process.pid}:deadbeef`, self), false);
    const child = spawn(process.execPath, ['-e', '']);
    await new Promise((r) => child.once('exit', r));
    assert.equal(isDeadLocalOwner(`${hostname()}:${child.pid}:deadbeef`, self), true);
  });
});
