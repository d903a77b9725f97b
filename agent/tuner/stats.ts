// Small order statistics shared by the policies.

/** The median of a short list (the mean of the middle two for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** A list that keeps only its `capacity` most recent values. */
export class RecentValues<T = number> {
  private readonly values: T[] = [];

  constructor(private readonly capacity: number) {}

  push(value: T): void {
    this.values.push(value);
    if (this.values.length > this.capacity) this.values.shift();
  }

  get all(): readonly T[] {
    return this.values;
  }
}
