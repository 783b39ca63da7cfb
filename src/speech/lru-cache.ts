/**
 * A map that keeps its `limit` most recently used entries (a Map's insertion order is the
 * recency order: a hit is moved to the end, the first entry is the one to evict). For what
 * requests repeat: keyword tries, G2P words, reference pronunciations; and, bounded, for what
 * clients might flood: the auth throttle's client addresses.
 */
export class LruCache<K, V> {
  private readonly map = new Map<K, V>();

  /** `limit` 0 keeps nothing. */
  constructor(private readonly limit: number) {}

  get(key: K): V | undefined {
    const value = this.map.get(key);
    if (value !== undefined) {
      this.map.delete(key);
      this.map.set(key, value);
    }
    return value;
  }

  set(key: K, value: V): void {
    this.map.delete(key);
    if (this.limit <= 0) return;
    if (this.map.size >= this.limit) this.map.delete(this.map.keys().next().value as K);
    this.map.set(key, value);
  }

  delete(key: K): void {
    this.map.delete(key);
  }

  get size(): number {
    return this.map.size;
  }

  /** The cached value, else `make()`'s, kept. */
  async getOrMake(key: K, make: () => Promise<V>): Promise<V> {
    const hit = this.get(key);
    if (hit !== undefined) return hit;
    const value = await make();
    this.set(key, value);
    return value;
  }
}
