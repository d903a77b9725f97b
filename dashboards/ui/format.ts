/** Milliseconds to three significant digits: 0.0412 ms, 1.4 ms, 12.1 ms, 1,234 ms. */
export function ms(value: number): string {
  if (value >= 1000) return `${Math.round(value).toLocaleString('en')} ms`;
  return `${Number(value.toPrecision(3))} ms`;
}

export function msFromNs(ns: number): string {
  return ms(ns / 1e6);
}

/** A duration in whole units: 45 s, 12 min, 3 h. */
export function age(milliseconds: number): string {
  const seconds = Math.round(milliseconds / 1000);
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds / 3600)} h`;
}

export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
