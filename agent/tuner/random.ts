// Seeded pseudo-random numbers for replays: the same seed gives the same arrivals and durations
// on every machine, so simulated results can be compared run to run and policy to policy.

/** A function returning uniform numbers in [0, 1). */
export type Random = () => number;

/**
 * mulberry32: 32 bits of state, one multiply-xorshift round per number. Far from
 * cryptographic, but uniform enough for spreading arrivals and sampling durations,
 * and cheap enough for millions of draws.
 */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A seed for one named stream (a function's arrivals, its durations) derived from the run's
 * seed, so adding or removing a function does not change the numbers any other one draws.
 */
export function streamSeed(seed: number, name: string): number {
  // FNV-1a over the name, started from the run's seed, then one avalanche step.
  let hash = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < name.length; i++) hash = Math.imul(hash ^ name.charCodeAt(i), 0x01000193) >>> 0;
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b) >>> 0;
  return (hash ^ (hash >>> 13)) >>> 0;
}
