/**
 * A Map with a size cap that drops the least recently used entry: rate-limit state is keyed by what
 * clients send (an IP, a header value), so it must stay bounded whatever they send. A dropped key
 * starts afresh, which for a token bucket means a full bucket: the cap trades exactness for
 * memory only for the coldest keys.
 *
 * Recency is kept to within half the capacity: a key is moved to the end (a delete and a set) only
 * once more than capacity/2 insertions have happened since it was last put there, so a hot key is
 * read with one lookup; a key read more often than once per capacity/2 insertions is never dropped.
 */
export class LruMap<K, V> {
  private readonly map = new Map<K, { value: V; stamp: number }>();
  /** Insertions so far: an entry's stamp says when it was last put at the end. */
  private clock = 0;

  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.map.size;
  }

  get(key: K): V | undefined {
    const entry = this.map.get(key);
    if (entry === undefined) return undefined;
    if (this.clock - entry.stamp > this.capacity / 2) {
      // Re-inserting moves the key to the end: Map iteration order is insertion order.
      this.map.delete(key);
      entry.stamp = ++this.clock;
      this.map.set(key, entry);
    }
    return entry.value;
  }

  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, { value, stamp: ++this.clock });
    if (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value!);
  }
}
