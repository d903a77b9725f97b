/**
 * A FIFO of waiting items with O(1) push, shift and cancel: a cancelled item stays in
 * the array until it reaches the head and is skipped there. `length` counts live items.
 */
export class WaitQueue<T extends object> {
  private items: (T | undefined)[] = [];
  private head = 0;
  private readonly members = new Set<T>();

  get length(): number {
    return this.members.size;
  }

  push(item: T): void {
    this.items.push(item);
    this.members.add(item);
  }

  shift(): T | undefined {
    while (this.head < this.items.length) {
      const item = this.items[this.head];
      this.items[this.head++] = undefined;
      if (item !== undefined && this.members.delete(item)) {
        this.compact();
        return item;
      }
    }
    this.compact();
    return undefined;
  }

  /** Removes an item wherever it is; false if it was not waiting. */
  cancel(item: T): boolean {
    return this.members.delete(item);
  }

  /** Live items, oldest first. */
  [Symbol.iterator](): IterableIterator<T> {
    return [...this.members][Symbol.iterator]();
  }

  drain(): T[] {
    const rest: T[] = [];
    for (let item = this.shift(); item !== undefined; item = this.shift()) rest.push(item);
    return rest;
  }

  private compact(): void {
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
