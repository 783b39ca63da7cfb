/**
 * Private temp dirs for media that ffmpeg must read from a file (short requests: their body).
 * Each is removed when its decode ends, but a process killed meanwhile (SIGKILL, the OOM killer)
 * leaves its dir, and the request's audio in it, behind: the crash soak found 3 after 50 kills.
 * Dirs are named after the process (`sori-media-<pid>-XXXXXX`), so that a starting server can
 * remove those of processes that no longer run.
 *
 * A temp dir shared between pid namespaces (containers with one /tmp but separate pids) is not
 * supported: a live process there would look dead from here. Give each its own TMPDIR.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PREFIX = 'sori-media-';
const OWNED = /^sori-media-(\d+)-/;

/** A new private dir for one decode; the caller removes it. */
export function makeMediaTempDir(root: string = tmpdir()): Promise<string> {
  return mkdtemp(join(root, `${PREFIX}${process.pid}-`));
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes the media temp dirs of processes that no longer run; resolves with their names. */
export async function removeOrphanedMediaTempDirs(root: string = tmpdir(), alive: (pid: number) => boolean = processAlive): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(root)) {
    const pid = Number(OWNED.exec(name)?.[1]);
    if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid || alive(pid)) continue;
    await rm(join(root, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}
