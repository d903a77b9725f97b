// A sorted table of address ranges (a binary's functions, the kernel's symbols, JIT code) and
// the lookup of the range holding an address. Addresses are numbers: user-space ones are below
// 2^47, and kernel ones are stored relative to the kernel half (kallsyms.ts), so all are exact.

export interface AddressRange<T> {
  start: number;
  /** Bytes covered; 0 when unknown, and then the range ends where the next one starts. */
  size: number;
  value: T;
}

export class AddressTable<T> {
  private readonly starts: Float64Array;
  private readonly ends: Float64Array;
  private readonly values: T[];

  /**
   * `better(a, b)` says whether `a` should name the address both start at; the size of the
   * chosen one is kept unless it has none. Ranges of equal start are compared in input order.
   */
  constructor(ranges: readonly AddressRange<T>[], better: (a: T, b: T) => boolean) {
    const sorted = [...ranges].sort((a, b) => a.start - b.start);
    const kept: AddressRange<T>[] = [];
    for (const range of sorted) {
      const last = kept[kept.length - 1];
      if (last === undefined || last.start !== range.start) kept.push(range);
      else if (better(range.value, last.value)) kept[kept.length - 1] = { ...range, size: range.size || last.size };
      else if (last.size === 0) kept[kept.length - 1] = { ...last, size: range.size };
    }
    this.starts = new Float64Array(kept.length);
    this.ends = new Float64Array(kept.length);
    this.values = new Array<T>(kept.length);
    kept.forEach((range, i) => {
      this.starts[i] = range.start;
      // Without a size, the range runs to the next start; the last one then covers only its start.
      this.ends[i] = range.size > 0 ? range.start + range.size : (kept[i + 1]?.start ?? range.start + 1);
      this.values[i] = range.value;
    });
  }

  /** The value of the range holding `address`, or undefined when none does. */
  find(address: number): T | undefined {
    const starts = this.starts;
    if (starts.length === 0 || address < starts[0]!) return undefined;
    // Largest i with starts[i] <= address.
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= address) lo = mid;
      else hi = mid - 1;
    }
    return address < this.ends[lo]! ? this.values[lo] : undefined;
  }
}

/**
 * Ranges given oldest first, cut so that each address belongs to the newest range covering it:
 * a JIT's code space is reused at other boundaries than before, and an older range starting
 * inside newer code must not name it. Returns disjoint pieces (a range may become several);
 * a range without a size is taken as one byte.
 */
export function newestWins<T>(ranges: readonly AddressRange<T>[]): AddressRange<T>[] {
  const pieces: AddressRange<T>[] = [];
  // Disjoint covered intervals, sorted by start (so by end too).
  const starts: number[] = [];
  const ends: number[] = [];
  for (let r = ranges.length - 1; r >= 0; r--) {
    const range = ranges[r]!;
    const end = range.start + Math.max(range.size, 1);
    // First covered interval ending after this range starts.
    let lo = 0;
    let hi = ends.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ends[mid]! <= range.start) lo = mid + 1;
      else hi = mid;
    }
    let cursor = range.start;
    let last = lo;
    for (; last < starts.length && starts[last]! < end; last++) {
      if (starts[last]! > cursor) pieces.push({ start: cursor, size: starts[last]! - cursor, value: range.value });
      cursor = Math.max(cursor, ends[last]!);
    }
    if (cursor < end) pieces.push({ start: cursor, size: end - cursor, value: range.value });
    const mergedStart = Math.min(range.start, starts[lo] ?? range.start);
    const mergedEnd = Math.max(end, last > lo ? ends[last - 1]! : end);
    starts.splice(lo, last - lo, mergedStart);
    ends.splice(lo, last - lo, mergedEnd);
  }
  return pieces;
}

/**
 * Whether alias `a` names a function better than alias `b` at the same address: the public name
 * over internal ones (glibc exports weak `getpid` and global `__getpid` at one address), so the
 * name with fewer leading underscores, then the wider binding (rank 0 global, 1 weak, 2 local),
 * then the shorter name, then the alphabetically first, so the choice never depends on order.
 */
export function preferredAlias(a: { name: string; rank: number }, b: { name: string; rank: number }): boolean {
  const underscores = leadingUnderscores(a.name) - leadingUnderscores(b.name);
  if (underscores !== 0) return underscores < 0;
  if (a.rank !== b.rank) return a.rank < b.rank;
  if (a.name.length !== b.name.length) return a.name.length < b.name.length;
  return a.name < b.name;
}

function leadingUnderscores(name: string): number {
  let n = 0;
  while (name.charCodeAt(n) === 0x5f) n++;
  return n;
}
