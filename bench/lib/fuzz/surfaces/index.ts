/** Every fuzzed surface by its bench name (`--surfaces short,...`). */
import type { Surface } from '../harness.js';
import { shortSurface } from './short.js';
import { longformSurface } from './longform.js';
import { adminSurface } from './admin.js';

export async function hardeningSurfaces(clip: Uint8Array): Promise<Record<string, Surface>> {
  return {
    short: shortSurface(clip),
    longform: longformSurface(clip),
    admin: adminSurface,
  };
}
