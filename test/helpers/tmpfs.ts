/** A small tmpfs for tests of a full disk, for real (needs root, as CI runs). */
import { execFile } from 'node:child_process';
import { mkdtemp, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Mounts a tmpfs of `mb` MiB; the reason as a string when this machine does not let us. */
export async function mountTmpfs(mb: number): Promise<{ dir: string; unmount: () => Promise<void> } | string> {
  if (process.getuid?.() !== 0) return 'needs root to mount a small tmpfs (CI runs as root)';
  const dir = await mkdtemp(join(tmpdir(), 'sori-tmpfs-'));
  try {
    await run('mount', ['-t', 'tmpfs', '-o', `size=${mb}m`, 'tmpfs', dir]);
  } catch (err) {
    await rmdir(dir);
    return `cannot mount a tmpfs here: ${(err as Error).message.split('\n')[0]}`;
  }
  return {
    dir,
    unmount: async () => {
      await run('umount', [dir]).catch(() => run('umount', ['-l', dir]));
      await rmdir(dir).catch(() => undefined);
    },
  };
}
