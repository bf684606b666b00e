/** A least-recently-used cache bounded by the summed size of its entries (sizes given by the caller). */
export class SizedLru<V> {
  private map = new Map<string, { value: V; size: number }>();
  private total = 0;
  constructor(readonly maxSize: number) {}

  get(key: string): V | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    // Re-insert so Map iteration order stays least-recently-used first.
    this.map.delete(key);
    this.map.set(key, e);
    return e.value;
  }

  set(key: string, value: V, size: number): void {
    const old = this.map.get(key);
    if (old) { this.total -= old.size; this.map.delete(key); }
    // An entry larger than the whole budget would evict everything and still not fit: not cached.
    if (size > this.maxSize) return;
    this.map.set(key, { value, size });
    this.total += size;
    for (const [k, e] of this.map) {
      if (this.total <= this.maxSize) break;
      this.map.delete(k);
      this.total -= e.size;
    }
  }

  clear(): void { this.map.clear(); this.total = 0; }
  get size(): number { return this.total; }
  get count(): number { return this.map.size; }
}
