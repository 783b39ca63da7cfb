/**
 * Long test files for the memory check, generated once with ffmpeg from the shared 12-minute
 * Korean recording (looped and cut) into .bench/ (git-ignored), 16 kHz mono FLAC, and reused.
 */
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { runCollect } from './children.js';
import { OUT_DIR } from './paths.js';
import { log } from './progress.js';

export async function probeDurationS(path: string): Promise<number | undefined> {
  const r = await runCollect('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'default=nw=1:nk=1', path]);
  const d = Number(r.stdout.trim());
  return r.code === 0 && Number.isFinite(d) ? d : undefined;
}

/**
 * `.bench/longform-<label>.flac`: `source` looped as often as needed and cut to `seconds`.
 * An existing file of the right length (within 1 s) is reused.
 */
export async function loopedFile(source: string, seconds: number, label: string): Promise<{ path: string; durationS: number; bytes: number; generated: boolean }> {
  mkdirSync(OUT_DIR, { recursive: true });
  const path = join(OUT_DIR, `longform-${label}.flac`);
  if (existsSync(path)) {
    const d = await probeDurationS(path);
    if (d !== undefined && Math.abs(d - seconds) < 1) return { path, durationS: d, bytes: statSync(path).size, generated: false };
  }
  const srcS = await probeDurationS(source);
  if (srcS === undefined) throw new Error(`ffprobe could not read ${source}`);
  const loops = Math.max(0, Math.ceil(seconds / srcS) - 1);
  const tmp = `${path}.tmp.flac`;
  log(`generating ${path}: ${source} x${loops + 1}, cut to ${seconds} s`);
  const r = await runCollect('ffmpeg', [
    '-nostdin', '-hide_banner', '-loglevel', 'error', '-y',
    '-stream_loop', String(loops), '-i', source,
    '-t', String(seconds), '-ac', '1', '-ar', '16000', '-c:a', 'flac', tmp,
  ]);
  if (r.code !== 0) {
    rmSync(tmp, { force: true });
    throw new Error(`ffmpeg failed making ${path}: ${r.stderr.slice(-500)}`);
  }
  renameSync(tmp, path);
  const d = await probeDurationS(path);
  if (d === undefined || Math.abs(d - seconds) >= 1) throw new Error(`${path}: expected ${seconds} s, ffprobe says ${d}`);
  return { path, durationS: d, bytes: statSync(path).size, generated: true };
}
