// Short human-readable numbers for decision reasons and result tables.

/** "850 ms", "4.2 s", "10 min", "2.5 h". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms < 1000) return `${round(ms)} ms`;
  if (ms < 60_000) return `${round(ms / 1000)} s`;
  if (ms < 3_600_000) return `${round(ms / 60_000)} min`;
  return `${round(ms / 3_600_000)} h`;
}

/** Three significant digits at most, without trailing zeros. */
export function round(value: number): number {
  return Number(value.toPrecision(3));
}

export function percent(fraction: number): string {
  return `${round(fraction * 100)}%`;
}
