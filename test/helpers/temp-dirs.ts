import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';

/**
 * One temporary root per test file, removed after it; `fresh()` gives each test an empty
 * directory of its own inside it. Call at the top level of a test file.
 */
export function tempDirs(prefix: string): { fresh: () => Promise<string> } {
  let root: string | undefined;
  let counter = 0;
  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), prefix));
  });
  after(async () => {
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  });
  return {
    async fresh() {
      if (root === undefined) throw new Error('tempDirs: fresh() called before the test file started');
      const dir = path.join(root, `case-${++counter}`);
      await mkdir(dir);
      return dir;
    },
  };
}
