/**
 * Each domain's registered boosting keywords (CLOVA's "domain boostings"): the set in the config
 * file, unless one was put through the admin route, which then wins until it is deleted again.
 * Admin sets live in `<dataDir>/domain-boostings.json`, so they survive restarts; the file is
 * replaced atomically (write, then rename) so a crash never leaves half of it.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { MAX_DOMAIN_BOOSTINGS, type DomainConfig } from '../config.js';

export const DOMAIN_BOOSTINGS_FILE = 'domain-boostings.json';

export type BoostingSource = 'config' | 'admin';

const fileSchema = z.record(z.string(), z.array(z.string()).max(MAX_DOMAIN_BOOSTINGS));

export class DomainBoostings {
  private readonly overrides = new Map<string, string[]>();
  private readonly byName: ReadonlyMap<string, DomainConfig>;
  /** Writes happen one after another, each with the whole current state. */
  private writes: Promise<void> = Promise.resolve();

  private constructor(domains: readonly DomainConfig[], private readonly dataDir: string | undefined) {
    this.byName = new Map(domains.map((d) => [d.name, d]));
  }

  /** `dataDir` undefined: admin changes are kept in memory only (tests, read-only setups). */
  static async open(domains: readonly DomainConfig[], dataDir: string | undefined): Promise<DomainBoostings> {
    const store = new DomainBoostings(domains, dataDir);
    if (dataDir === undefined) return store;
    const file = join(dataDir, DOMAIN_BOOSTINGS_FILE);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return store;
      throw new Error(`cannot read ${file}: ${(err as Error).message}`);
    }
    const parsed = fileSchema.safeParse(JSON.parse(text));
    if (!parsed.success) throw new Error(`${file} is not a valid domain boostings file: ${parsed.error.message}`);
    for (const [name, keywords] of Object.entries(parsed.data)) {
      // A domain removed from the config since: its stored set is dropped with it.
      if (store.byName.has(name)) store.overrides.set(name, keywords);
    }
    return store;
  }

  has(domain: string): boolean {
    return this.byName.has(domain);
  }

  keywords(domain: string): string[] {
    return [...(this.overrides.get(domain) ?? this.byName.get(domain)?.boostings ?? [])];
  }

  source(domain: string): BoostingSource {
    return this.overrides.has(domain) ? 'admin' : 'config';
  }

  async set(domain: string, keywords: readonly string[]): Promise<void> {
    if (!this.byName.has(domain)) throw new Error(`unknown domain "${domain}"`);
    this.overrides.set(domain, normaliseKeywords(keywords));
    await this.persist();
  }

  /** Back to the config file's set. */
  async reset(domain: string): Promise<void> {
    if (!this.overrides.delete(domain)) return;
    await this.persist();
  }

  private persist(): Promise<void> {
    const dir = this.dataDir;
    if (dir === undefined) return Promise.resolve();
    const snapshot = JSON.stringify(Object.fromEntries(this.overrides), null, 2) + '\n';
    const write = async (): Promise<void> => {
      await mkdir(dir, { recursive: true });
      const file = join(dir, DOMAIN_BOOSTINGS_FILE);
      const tmp = `${file}.${process.pid}.tmp`;
      await writeFile(tmp, snapshot, { mode: 0o600 });
      await rename(tmp, file);
    };
    this.writes = this.writes.then(write, write);
    return this.writes;
  }
}

/** Trimmed, without empties or duplicates, in the order given. */
export function normaliseKeywords(keywords: readonly string[]): string[] {
  return [...new Set(keywords.map((k) => k.trim()).filter((k) => k !== ''))];
}
