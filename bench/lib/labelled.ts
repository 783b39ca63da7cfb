/**
 * The RTTM-labelled recordings the diarization benches score: the shared testdata's, then the
 * registry meeting data `bench/fetch-diarization-data.ts` writes (marked with a leading '+').
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadManifest, manifestPath } from './manifest.js';
import { OUT_DIR, testdataDir } from './paths.js';

export const DIARIZATION_DATA_DIR = join(OUT_DIR, 'diarization-data');

/** One line of the fetched data's manifest.jsonl (the shared testdata's format). */
export interface FetchedEntry {
  file: string;
  lang: string;
  duration_s: number;
  rttm: string;
  speakers: string[];
  tags: string[];
  source: string;
  license: string;
}

/** The manifest of the fetched data, or [] when it has not been fetched. */
export function loadDiarizationData(dir = DIARIZATION_DATA_DIR): FetchedEntry[] {
  const path = join(dir, 'manifest.jsonl');
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as FetchedEntry);
}

export interface Labelled {
  /** As shown: the manifest path, '+' first for fetched data. */
  file: string;
  path: string;
  rttm: string;
  lang: string;
  /** A meeting recording (AMI, council), as the per-meeting target counts them. */
  meeting: boolean;
}

/** Every labelled recording; the fetched ones only with `extra`. */
export function labelledRecordings({ extra = true }: { extra?: boolean } = {}): Labelled[] {
  const td = testdataDir();
  const shared = loadManifest(manifestPath(td))
    .filter((e) => typeof e.rttm === 'string')
    .map((e) => ({ file: e.file, path: resolve(td, e.file), rttm: resolve(td, e.rttm as string), lang: e.lang, meeting: e.file.includes('ami_') }));
  const fetched = extra
    ? loadDiarizationData().map((e) => ({ file: `+${e.file}`, path: resolve(DIARIZATION_DATA_DIR, e.file), rttm: resolve(DIARIZATION_DATA_DIR, e.rttm), lang: e.lang, meeting: true }))
    : [];
  return [...shared, ...fetched];
}
