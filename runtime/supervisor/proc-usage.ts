import fs from 'node:fs';
import { statField } from '../../shared/proc-stat.js';

const PAGE_SIZE = 4096;
/** USER_HZ: the unit of the CPU times in /proc/PID/stat and /proc/stat, 100 on every Linux ABI Hearth runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

/** /proc/PID/NAME, or undefined when the process is gone. */
function procFile(pid: number, name: string): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/${name}`, 'utf8');
  } catch {
    return undefined;
  }
}

/** Private resident memory (RSS minus shared pages, which include the mapped state), in bytes; 0 when the process is gone. */
export function privateMemoryBytes(pid: number): number {
  const statm = procFile(pid, 'statm');
  if (statm === undefined) return 0;
  const [, resident, shared] = statm.split(' ').map(Number);
  return ((resident ?? 0) - (shared ?? 0)) * PAGE_SIZE;
}

/**
 * The worker's proportional set size without its state, in MiB: its anonymous memory and its
 * share of file pages (binary, libraries), without shmem, where the state lives (memfd and
 * tmpfs; hugetlb pages are not in the PSS at all). What one more idle worker really adds.
 * Reads smaps_rollup, which walks the page tables: for occasional readers only. Undefined
 * when the process is gone.
 */
export function pssWithoutStateMb(pid: number): number | undefined {
  const text = procFile(pid, 'smaps_rollup');
  if (text === undefined) return undefined;
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
  return (field('Pss_Anon') + field('Pss_File')) / 1024;
}

/** User plus system CPU time of a process and all its threads, in seconds; undefined when it is gone. */
export function processCpuSeconds(pid: number): number | undefined {
  const stat = procFile(pid, 'stat');
  if (stat === undefined) return undefined;
  const utime = Number(statField(stat, 14));
  const stime = Number(statField(stat, 15));
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  return (utime + stime) / CLOCK_TICKS_PER_SECOND;
}

/** Seconds CPU `cpu` has been busy (user, nice, system, irq, softirq) since boot, from /proc/stat; undefined when it is not listed. */
export function cpuBusySeconds(cpu: number): number | undefined {
  const line = new RegExp(`^cpu${cpu} (.*)$`, 'm').exec(fs.readFileSync('/proc/stat', 'utf8'))?.[1];
  if (line === undefined) return undefined;
  const [user, nice, system, , , irq, softirq] = line.split(' ').map(Number);
  const busy = (user ?? NaN) + (nice ?? NaN) + (system ?? NaN) + (irq ?? NaN) + (softirq ?? NaN);
  return Number.isFinite(busy) ? busy / CLOCK_TICKS_PER_SECOND : undefined;
}
