/**
 * Temp dirs of short requests a killed server was decoding: named after their process, removed
 * by the next start once that process is gone (the crash soak found them left behind).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { makeMediaTempDir, removeOrphanedMediaTempDirs } from '../../src/media/temp-files.js';

test('a media temp dir is named after its process', async () => {
  const root = await mkdtemp(join(tmpdir(), 'sori-temp-test-'));
  try {
    const dir = await makeMediaTempDir(root);
    assert.match(basename(dir), new RegExp(`^sori-media-${process.pid}-\\w{6}$`));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('only the dirs of processes that no longer run are removed', async () => {
  const root = await mkdtemp(join(tmpdir(), 'sori-temp-test-'));
  try {
    const names = [
      'sori-media-4000001-aaaaaa', // dead
      'sori-media-4000002-bbbbbb', // alive
      `sori-media-${process.pid}-cccccc`, // this process
      'sori-media-dddddd', // older name without a pid: unknown owner, kept
      'other-4000001-eeeeee', // not ours
    ];
    for (const n of names) {
      await mkdir(join(root, n));
      await writeFile(join(root, n, 'input'), 'audio');
    }
    const removed = await removeOrphanedMediaTempDirs(root, (pid) => pid === 4000002);
    assert.deepEqual(removed, ['sori-media-4000001-aaaaaa']);
    assert.deepEqual((await readdir(root)).sort(), names.slice(1).sort());
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('by default a pid is checked against the running processes', async () => {
  const root = await mkdtemp(join(tmpdir(), 'sori-temp-test-'));
  try {
    // pid 1 always runs; 2^22 + 1 is above Linux's pid_max limit, so never a process.
    await mkdir(join(root, 'sori-media-1-aaaaaa'));
    await mkdir(join(root, 'sori-media-4194305-bbbbbb'));
    assert.deepEqual(await removeOrphanedMediaTempDirs(root), ['sori-media-4194305-bbbbbb']);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
