/** Order statistics for benchmark samples (nearest-rank). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export interface Summary {
  n: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  min_ms: number;
}

export function summarise(samplesMs: readonly number[]): Summary {
  return {
    n: samplesMs.length,
    p50_ms: round(percentile(samplesMs, 50)),
    p99_ms: round(percentile(samplesMs, 99)),
    max_ms: round(Math.max(...samplesMs)),
    min_ms: round(Math.min(...samplesMs)),
  };
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

export function round(value: number, digits = 3): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
