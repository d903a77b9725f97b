// perf_event_open(2) for the events BPF programs attach to (BpfObject.attachPerfEvent).
import { closeFd, perfEventOpen } from './libbpf.js';

const PERF_TYPE_SOFTWARE = 1;
const PERF_COUNT_SW_CPU_CLOCK = 0;
const PERF_ATTR_SIZE = 128; // PERF_ATTR_SIZE_VER8, sizeof(struct perf_event_attr) in 6.x headers
const ATTR_FLAG_INHERIT = 1n << 1n;
const ATTR_FLAG_FREQ = 1n << 10n;
const PERF_FLAG_FD_CLOEXEC = 8;

/**
 * A software CPU-clock event on one CPU for every process (pid -1), firing about frequencyHz
 * times a second (freq mode: the kernel adjusts the period to hit the rate). Its timer runs
 * whether or not anything of interest is on the CPU. Returns the fd; attaching a program hands
 * the fd to its link, otherwise closePerfEvent() it.
 */
export function openCpuClock(cpu: number, frequencyHz: number): number {
  if (!Number.isInteger(cpu) || cpu < 0) throw new RangeError(`bad cpu ${cpu}`);
  return perfEventOpen(clockAttr(frequencyHz, 0n), -1, cpu, -1, PERF_FLAG_FD_CLOEXEC, `cpu-clock cpu ${cpu} at ${frequencyHz} Hz`);
}

/**
 * A software CPU-clock event that follows one process on any CPU, with every thread and child
 * it starts from now on (inherit), across exec: its timer runs only while they are on a CPU,
 * so an idle process costs nothing. Opening it needs ptrace-read access to the process (same
 * user and dumpable, or CAP_SYS_PTRACE). Closing the fd (destroying its link) ends it in the
 * inheritors too.
 */
export function openProcessClock(pid: number, frequencyHz: number): number {
  if (!Number.isInteger(pid) || pid <= 0) throw new RangeError(`bad pid ${pid}`);
  return perfEventOpen(clockAttr(frequencyHz, ATTR_FLAG_INHERIT), pid, -1, -1, PERF_FLAG_FD_CLOEXEC, `cpu-clock of process ${pid} at ${frequencyHz} Hz`);
}

/** struct perf_event_attr (uapi/linux/perf_event.h) of a sampling CPU clock; enabled at once. */
function clockAttr(frequencyHz: number, flags: bigint): Buffer {
  if (!Number.isInteger(frequencyHz) || frequencyHz <= 0) throw new RangeError(`bad frequency ${frequencyHz}`);
  const attr = Buffer.alloc(PERF_ATTR_SIZE);
  attr.writeUInt32LE(PERF_TYPE_SOFTWARE, 0); // type
  attr.writeUInt32LE(PERF_ATTR_SIZE, 4); // size
  attr.writeBigUInt64LE(BigInt(PERF_COUNT_SW_CPU_CLOCK), 8); // config
  attr.writeBigUInt64LE(BigInt(frequencyHz), 16); // sample_freq (union with sample_period)
  attr.writeBigUInt64LE(ATTR_FLAG_FREQ | flags, 40); // flag bits; not disabled, so it runs at once
  return attr;
}

/** For a perf event fd that never got attached (a link closes its own). */
export function closePerfEvent(fd: number): void {
  closeFd(fd, `perf event fd ${fd}`);
}
