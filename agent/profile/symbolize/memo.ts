/**
 * A bounded memo in two generations: entries go into the young one; when it is full it becomes
 * the old one and the previous old one is dropped; a hit in the old generation moves the entry
 * back to the young one. So what is in use stays, at most 2 × generationSize entries are held,
 * and a hit costs one Map lookup.
 */
export class Memo<K, V> {
  private young = new Map<K, V>();
  private old = new Map<K, V>();

  constructor(private readonly generationSize: number) {
    if (!Number.isInteger(generationSize) || generationSize < 1) throw new RangeError(`memo generation size must be a positive integer (got ${generationSize})`);
  }

  get(key: K): V | undefined {
    const value = this.young.get(key);
    if (value !== undefined) return value;
    const aged = this.old.get(key);
    if (aged !== undefined) {
      this.old.delete(key);
      this.set(key, aged);
    }
    return aged;
  }

  set(key: K, value: V): void {
    if (this.young.size >= this.generationSize) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, value);
  }

  get size(): number {
    return this.young.size + this.old.size;
  }
}
