/** The real recording fuzz cases start from: the first 3 s of testdata's en/jfk.flac as 16 kHz mono WAV. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testdataDir } from '../paths.js';

export function fuzzClip(format: 'wav' | 'flac' = 'wav', seconds = 3): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'sori-fuzz-clip-'));
  try {
    const out = join(dir, `clip.${format}`);
    execFileSync('ffmpeg', ['-v', 'error', '-i', join(testdataDir(), 'en/jfk.flac'), '-t', String(seconds), '-ac', '1', '-ar', '16000', out]);
    return new Uint8Array(readFileSync(out));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
