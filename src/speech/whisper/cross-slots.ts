import ort from 'onnxruntime-node';

/**
 * The stacked cross K/V ([G, heads, T, hd] per layer key, value) of a changing set of requests,
 * for GroupedRunner: a request joining copies only its own K/V into the next free slot (~37 MB
 * for base), a request leaving has the last slot moved into its place, so slots [0, G) stay
 * contiguous and the feeds are views on them. Restacking the whole set on every change
 * (GroupedRunner.stackCross) costs G times that: 250-340 ms for 8 requests.
 *
 * The slot order is the group order: pass caches to stepGroups in `keys` order. Views from
 * `tensors()` are only valid until the next add/delete (a delete moves data under them, a growth
 * reallocates), so change the set only between runs, never while one is in flight.
 */
export class CrossSlots<K> {
  private bufs: Float32Array[] = [];
  private dims: number[][] = [];
  private size = 0;
  private capacity = 0;
  private readonly order: K[] = [];
  private views: ort.Tensor[] | undefined;

  /** `capacity`: slots allocated at the first add (grows by doubling past it). */
  constructor(private readonly initialCapacity = 4) {}

  get keys(): readonly K[] {
    return this.order;
  }

  get count(): number {
    return this.order.length;
  }

  has(key: K): boolean {
    return this.order.includes(key);
  }

  /** Adds a request's cross K/V ([1, heads, T, hd] per layer key, value), copied into a slot. */
  add(key: K, cross: ort.Tensor[]): void {
    if (this.has(key)) throw new Error('CrossSlots.add: key already present');
    if (this.bufs.length === 0) {
      this.dims = cross.map((t) => [...t.dims]);
      this.size = (cross[0].data as Float32Array).length;
    }
    if (cross.length !== this.dims.length || cross.some((t, i) => t.dims.join() !== this.dims[i].join() || t.dims[0] !== 1)) {
      throw new Error(`CrossSlots.add: cross K/V [${cross[0]?.dims.join(', ')}] does not match the slots' [${this.dims[0]?.join(', ')}] (all requests need the same T)`);
    }
    const g = this.order.length;
    if (g === this.capacity) this.grow(Math.max(this.initialCapacity, 2 * this.capacity));
    cross.forEach((t, i) => this.bufs[i].set(t.data as Float32Array, g * this.size));
    this.order.push(key);
    this.views = undefined;
  }

  /** Removes a request; the last slot's request takes its place. */
  delete(key: K): void {
    const g = this.order.indexOf(key);
    if (g < 0) return;
    const last = this.order.length - 1;
    if (g !== last) {
      for (const buf of this.bufs) buf.copyWithin(g * this.size, last * this.size, (last + 1) * this.size);
      this.order[g] = this.order[last];
    }
    this.order.pop();
    this.views = undefined;
  }

  /** The feeds for the current set: [count, heads, T, hd] per layer key, value. */
  tensors(): ort.Tensor[] {
    if (this.order.length === 0) throw new Error('CrossSlots.tensors: no requests');
    this.views ??= this.bufs.map((buf, i) => {
      const dims = [...this.dims[i]];
      dims[0] = this.order.length;
      return new ort.Tensor('float32', buf.subarray(0, this.order.length * this.size), dims);
    });
    return this.views;
  }

  private grow(capacity: number): void {
    this.bufs = this.dims.map((_, i) => {
      const next = new Float32Array(capacity * this.size);
      if (this.bufs[i]) next.set(this.bufs[i].subarray(0, this.order.length * this.size));
      return next;
    });
    this.capacity = capacity;
  }
}
