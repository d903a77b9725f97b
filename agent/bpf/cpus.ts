// CPU sets as the kernel reports them (cpulist format, e.g. "0-3,8-11"). Per-CPU map values are
// sized by the *possible* CPUs, not the online ones, so readers must use possibleCpus().
import fs from 'node:fs';

export function parseCpuList(text: string): number[] {
  const cpus: number[] = [];
  for (const part of text.trim().split(',')) {
    if (part === '') continue;
    const [from, to] = part.split('-');
    const first = Number(from);
    const last = to === undefined ? first : Number(to);
    if (!Number.isInteger(first) || !Number.isInteger(last) || last < first) throw new Error(`bad cpu list "${text.trim()}"`);
    for (let cpu = first; cpu <= last; cpu++) cpus.push(cpu);
  }
  return cpus;
}

let possible: number[] | undefined;

/** CPUs that can ever exist on this boot (fixed until reboot, so read once). */
export function possibleCpus(): number[] {
  possible ??= parseCpuList(fs.readFileSync('/sys/devices/system/cpu/possible', 'utf8'));
  return possible;
}

export function onlineCpus(): number[] {
  return parseCpuList(fs.readFileSync('/sys/devices/system/cpu/online', 'utf8'));
}
