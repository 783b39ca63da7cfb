/** Where the shared, read-only inputs live. Env vars first, so a fresh machine can point elsewhere. */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function testdataDir(): string {
  return resolve(process.env.SORI_TESTDATA_DIR ?? resolve(REPO_ROOT, '..', 'shared', 'testdata'));
}

export function modelsDir(): string {
  return resolve(process.env.SORI_MODELS_DIR ?? resolve(REPO_ROOT, '..', 'shared', 'models'));
}

/** Folder holding setup-reference.sh and reference.py. */
export function referenceDir(): string {
  return resolve(process.env.SORI_REFERENCE_DIR ?? resolve(REPO_ROOT, '..', 'shared', 'bench'));
}

/** Git-ignored output folder for the latest results. */
export const OUT_DIR = resolve(REPO_ROOT, '.bench');
