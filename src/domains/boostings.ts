/**
 * Each domain's registered boosting keywords (CLOVA's "domain boostings"): the set in the config
 * file, unless one was put through the admin route, which then wins until it is deleted again.
 * One node: admin sets live in `<dataDir>/domain-boostings.json`, so they survive restarts; the
 * file is replaced atomically (write, then rename) so a crash never leaves half of it.
 * A cluster (`database.url`): admin sets live in a store every node shares (`SharedBoostings`,
 * PostgreSQL: jobs/postgres-boostings.ts). Reads stay synchronous and local (a recognition never
 * waits on the database): each node reloads the shared sets every `refreshMs` (1 s), so a change
 * made on one node is used by the others within that bound plus one round trip; the node that
 * made it uses it at once.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { MAX_DOMAIN_BOOSTINGS, type DomainConfig } from '../config.js';

export const DOMAIN_BOOSTINGS_FILE = 'domain-boostings.json';

export type BoostingSource = 'config' | 'admin';

const fileSchema = z.record(z.string(), z.array(z.string()).max(MAX_DOMAIN_BOOSTINGS));

/** Admin sets kept where every node reads them. */
export interface SharedBoostings {
  /** Every stored set, by domain. */
  load(): Promise<Map<string, string[]>>;
  save(domain: string, keywords: readonly string[]): Promise<void>;
  /** Returns whether there was a set to remove. */
  remove(domain: string): Promise<boolean>;
}

export interface SharedBoostingsOptions {
  /** How often the shared sets are reloaded: the staleness bound of another node's change. */
  refreshMs?: number;
  /** Told when a reload fails (the last sets loaded stay in use). */
  onRefreshError?: (err: unknown) => void;
}

/** The default staleness bound of a change made on another node. */
export const SHARED_BOOSTINGS_REFRESH_MS = 1000;

export class DomainBoostings {
  private overrides = new Map<string, string[]>();
  private shared: SharedBoostings | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Bumped by every local change: a reload begun before one must not undo it. */
  private generation = 0;
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

  /**
   * Admin sets from `shared`: loaded now (a failure is reported and retried on the next refresh;
   * the config file's sets serve meanwhile), then every `refreshMs`. `close()` stops the refresh.
   */
  static async openShared(domains: readonly DomainConfig[], shared: SharedBoostings, options: SharedBoostingsOptions = {}): Promise<DomainBoostings> {
    const store = new DomainBoostings(domains, undefined);
    store.shared = shared;
    const report = options.onRefreshError ?? (() => undefined);
    await store.refresh().catch(report);
    let running = false;
    store.timer = setInterval(() => {
      if (running) return;
      running = true;
      store.refresh().catch(report).finally(() => {
        running = false;
      });
    }, options.refreshMs ?? SHARED_BOOSTINGS_REFRESH_MS);
    store.timer.unref();
    return store;
  }

  /** Reloads the shared sets (nothing to do for a file-backed store). */
  async refresh(): Promise<void> {
    if (this.shared === undefined) return;
    const before = this.generation;
    const loaded = await this.shared.load();
    if (this.generation !== before) return;
    this.overrides = new Map([...loaded].filter(([name]) => this.byName.has(name)));
  }

  close(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
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
    const set = normaliseKeywords(keywords);
    if (this.shared !== undefined) {
      // Stored first: a change the other nodes cannot see is not made here either.
      await this.shared.save(domain, set);
      this.generation++;
      this.overrides.set(domain, set);
      return;
    }
    this.overrides.set(domain, set);
    await this.persist();
  }

  /** Back to the config file's set. */
  async reset(domain: string): Promise<void> {
    if (this.shared !== undefined) {
      await this.shared.remove(domain);
      this.generation++;
      this.overrides.delete(domain);
      return;
    }
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
