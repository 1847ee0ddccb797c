/**
 * A Map with a size cap that drops the least recently used entry: rate-limit state is keyed by what
 * clients send (an IP, a header value), so it must stay bounded whatever they send. A dropped key
 * starts afresh, which for a token bucket means a full bucket: the cap trades exactness for
 * memory only for the coldest keys.
 */
export class LruMap<K, V> {
  private readonly map = new Map<K, V>();

  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.map.size;
  }

  get(key: K): V | undefined {
    const value = this.map.get(key);
    if (value !== undefined) {
      // Re-inserting moves the key to the end: Map iteration order is insertion order.
      this.map.delete(key);
      this.map.set(key, value);
    }
    return value;
  }

  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value!);
  }
}
