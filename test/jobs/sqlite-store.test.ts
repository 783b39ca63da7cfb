import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { SqliteJobStore } from '../../src/jobs/sqlite-store.js';
import { storeSuite } from './store-suite.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sori-store-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

let databases = 0;
storeSuite('SqliteJobStore', {
  async fresh() {
    // Each store is its own connection to the file, as another process's would be.
    const file = join(dir, `store-${++databases}.db`);
    return async () => new SqliteJobStore(file);
  },
});
