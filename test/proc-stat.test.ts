import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { procStat } from '../src/proc-stat.js';

test('procStat gives the fields after "pid (comm) ", state first; null for a process that is gone', { skip: process.platform !== 'linux' }, () => {
  const own = procStat(process.pid);
  assert.ok(own !== null);
  assert.match(own[0], /^[RS]$/);
  assert.equal(Number(own[1]), process.ppid);
  const gone = spawnSync(process.execPath, ['-e', '0']).pid;
  assert.equal(procStat(gone), null);
});
