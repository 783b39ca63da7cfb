/** Every fuzzed surface by its bench name (`--surfaces short,...`), built only when asked for. */
import { rmSync } from 'node:fs';
import type { Surface } from '../harness.js';
import { shortSurface } from './short.js';
import { longformSurface } from './longform.js';
import { adminSurface } from './admin.js';
import { buildMediaFiles, mediaSurface } from './media.js';
import { websocketSurface } from './websocket.js';
import { grpcSurface } from './grpc.js';
import { openaiSurface } from './openai.js';

export function hardeningSurfaces(clip: Uint8Array): Record<string, () => Surface> {
  return {
    short: () => shortSurface(clip),
    longform: () => longformSurface(clip),
    admin: () => adminSurface,
    websocket: () => websocketSurface,
    grpc: () => grpcSurface,
    openai: () => openaiSurface(clip),
    media: () => {
      const files = buildMediaFiles(clip);
      process.once('exit', () => rmSync(files.dir, { recursive: true, force: true }));
      return mediaSurface(files);
    },
  };
}
