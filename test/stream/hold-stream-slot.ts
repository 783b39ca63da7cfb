/**
 * A process that takes one stream slot of domain "general" (limit 1) on the PostgreSQL in
 * SORI_DATABASE_URL, prints "held" and keeps it (heartbeat running) until it is killed: what a
 * node serving a stream looks like to the others. Run by postgres-stream-slots.int.test.ts.
 */
import { createLogger } from '../../src/logger.js';
import { newOwnerId } from '../../src/jobs/owner.js';
import { PostgresJobStore } from '../../src/jobs/postgres-store.js';
import { PostgresStreamSlots } from '../../src/stream/postgres-stream-slots.js';

const url = process.env.SORI_DATABASE_URL;
if (url === undefined) throw new Error('SORI_DATABASE_URL is not set');
const leaseMs = Number(process.env.SLOT_LEASE_MS ?? '2000');
const store = new PostgresJobStore({ url, poolSize: 2 });
const slots = new PostgresStreamSlots({ store, owner: newOwnerId(), leaseMs, logger: createLogger({ level: 'silent' }) });
await slots.start();
const limits = { shortMaxSeconds: 60, shortMaxBytes: 1 << 20, maxConcurrentStreams: 1, requestsPerSecond: 0, maxConcurrentUploads: 16 };
const release = await slots.take({ name: 'general', secret: 'unused-secret', defaultLanguage: 'ko', limits });
process.stdout.write(release === undefined ? 'refused\n' : 'held\n');
setInterval(() => undefined, 60_000);
