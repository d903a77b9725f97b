// What a worker process costs in memory, from /proc. Two measures: a cheap one the pool
// checks every few seconds to recycle workers that grew, and an exact one for whoever prices
// an idle worker (the agent's tuner), which leaves the shared state out.
import fs from 'node:fs';

const PAGE_SIZE = 4096;
const MIB = 1048576;

/** Private resident memory in MiB (RSS minus shared pages, which include the mapped state), from statm: one read, no page walk. */
export function residentPrivateMb(pid: number): number {
  try {
    const [, resident, shared] = fs.readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ').map(Number);
    return (((resident ?? 0) - (shared ?? 0)) * PAGE_SIZE) / MIB;
  } catch {
    return 0;
  }
}

/**
 * The worker's proportional set size without its state, in MiB: its anonymous memory and its
 * share of file pages (binary, libraries), without shmem, where the state lives (memfd and
 * tmpfs; hugetlb pages are not in the PSS at all). What one more idle worker really adds.
 * Reads smaps_rollup, which walks the page tables: for occasional readers only. Undefined
 * when the process is gone.
 */
export function pssWithoutStateMb(pid: number): number | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  } catch {
    return undefined;
  }
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
  return (field('Pss_Anon') + field('Pss_File')) / 1024;
}
