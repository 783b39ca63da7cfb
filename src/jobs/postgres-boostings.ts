/**
 * Registered boosting keywords in PostgreSQL (`domain_boostings`, migration 5), on the job
 * store's pool: what `PUT /admin/domains/{domain}/boostings` stores on one node, every node
 * reads (domains/boostings.ts reloads it every second). Keywords are kept as JSON text, as the
 * job rows keep theirs.
 */
import { z } from 'zod';
import { MAX_DOMAIN_BOOSTINGS, type DomainConfig } from '../config.js';
import { DomainBoostings, type SharedBoostings, type SharedBoostingsOptions } from '../domains/boostings.js';
import { PostgresJobStore } from './postgres-store.js';
import type { JobStore } from './store.js';

const keywordsSchema = z.array(z.string()).max(MAX_DOMAIN_BOOSTINGS);

export class PostgresBoostings implements SharedBoostings {
  constructor(private readonly store: Pick<PostgresJobStore, 'query'>) {}

  async load(): Promise<Map<string, string[]>> {
    const { rows } = await this.store.query<{ domain: string; keywords: string }>('SELECT domain, keywords FROM domain_boostings');
    const sets = new Map<string, string[]>();
    for (const row of rows) {
      // A row no node wrote (edited by hand) is skipped rather than trusted.
      const parsed = keywordsSchema.safeParse(JSON.parse(row.keywords));
      if (parsed.success) sets.set(row.domain, parsed.data);
    }
    return sets;
  }

  async save(domain: string, keywords: readonly string[]): Promise<void> {
    await this.store.query(
      `INSERT INTO domain_boostings (domain, keywords, updated_at) VALUES ($1, $2, now())
       ON CONFLICT (domain) DO UPDATE SET keywords = excluded.keywords, updated_at = excluded.updated_at`,
      [domain, JSON.stringify(keywords)],
    );
  }

  async remove(domain: string): Promise<boolean> {
    const r = await this.store.query('DELETE FROM domain_boostings WHERE domain = $1', [domain]);
    return (r.rowCount ?? 0) > 0;
  }
}

/**
 * The node's registered boostings: shared through PostgreSQL when the job store is PostgreSQL,
 * else in `<dataDir>/domain-boostings.json` (undefined `dataDir`: in memory).
 */
export async function openDomainBoostings(
  domains: readonly DomainConfig[],
  store: JobStore | undefined,
  dataDir: string | undefined,
  options: SharedBoostingsOptions = {},
): Promise<DomainBoostings> {
  if (store instanceof PostgresJobStore) return DomainBoostings.openShared(domains, new PostgresBoostings(store), options);
  return DomainBoostings.open(domains, dataDir);
}
