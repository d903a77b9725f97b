// Can this host load Hearth's BPF programs? Checked without touching libbpf, so it works (and
// says why) on hosts where loading would fail.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN, capabilityName, effectiveCapabilities } from '../../shared/capabilities.js';

export type HostCheck = { ok: true; kernel: string; libbpf: string } | { ok: false; missing: string; kernel: string };

const BTF = '/sys/kernel/btf/vmlinux';
const LIBBPF = 'libbpf.so.1';
const LIBRARY_DIRS = ['/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib64', '/usr/lib64', '/lib', '/usr/lib', '/usr/local/lib'];
/** Ring buffers need 5.8 and uprobe BPF cookies 5.15. */
const MIN_KERNEL: [number, number] = [5, 15];

/** One line naming everything missing, or ok with the versions found. */
export function checkHost(): HostCheck {
  const kernel = os.release();
  const missing: string[] = [];
  const libbpf = findLibbpf();
  if (libbpf === undefined) missing.push(`${LIBBPF} is not installed (apt install libbpf1)`);
  if (!fs.existsSync(BTF)) missing.push(`BTF is missing: ${BTF} does not exist (kernel built without CONFIG_DEBUG_INFO_BTF)`);
  const caps = effectiveCapabilities();
  // CAP_SYS_ADMIN implies both on kernels that know CAP_BPF (bpf_capable(), perfmon_capable()).
  if (!caps.has(CAP_SYS_ADMIN) && !(caps.has(CAP_BPF) && caps.has(CAP_PERFMON))) {
    const lacks = [CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN].filter((cap) => !caps.has(cap)).map(capabilityName);
    const has = [...caps].sort((a, b) => a - b).map(capabilityName);
    missing.push(`needs root or CAP_BPF and CAP_PERFMON (uid ${process.getuid?.() ?? '?'} lacks ${lacks.join(', ')}; has: ${has.join(', ') || 'no capabilities'})`);
  }
  const version = /^(\d+)\.(\d+)/.exec(kernel);
  const major = Number(version?.[1] ?? 0);
  const minor = Number(version?.[2] ?? 0);
  if (major < MIN_KERNEL[0] || (major === MIN_KERNEL[0] && minor < MIN_KERNEL[1])) {
    missing.push(`kernel ${kernel} is too old: needs ${MIN_KERNEL.join('.')} or later (BPF ring buffer, uprobe cookies)`);
  }
  if (missing.length > 0 || libbpf === undefined) return { ok: false, missing: `${missing.join('; ')} [kernel ${kernel}]`, kernel };
  return { ok: true, kernel, libbpf };
}

/**
 * Why uprobes are refused (EACCES) when the rest loads: the kernel's uprobe PMU asks for
 * CAP_SYS_ADMIN (perf_uprobe_event_init: current kernels went back to it from CAP_PERFMON,
 * since a uprobe writes into the probed process). Undefined when the agent has it.
 */
export function uprobeCapabilityMissing(): string | undefined {
  if (effectiveCapabilities().has(CAP_SYS_ADMIN)) return undefined;
  return 'this kernel attaches uprobes only for CAP_SYS_ADMIN, which the agent lacks: Go runtime, Node and SDK marker probes are off, and phases come from kernel tracepoints, syscall hooks and the runtime\'s events';
}

/** The libbpf the dynamic loader would pick, as "path (version)", or undefined. */
function findLibbpf(): string | undefined {
  const dirs = [...(process.env['LD_LIBRARY_PATH'] ?? '').split(':').filter((dir) => dir !== ''), ...cachedDirs(), ...LIBRARY_DIRS];
  for (const dir of dirs) {
    const file = path.join(dir, LIBBPF);
    if (!fs.existsSync(file)) continue;
    const real = fs.realpathSync(file);
    const version = /libbpf\.so\.([\d.]+)$/.exec(real)?.[1];
    return version === undefined ? file : `${file} (${version})`;
  }
  return undefined;
}

/** Directories /etc/ld.so.cache lists for libbpf.so.1 (the cache stores full paths as strings). */
function cachedDirs(): string[] {
  let cache: Buffer;
  try {
    cache = fs.readFileSync('/etc/ld.so.cache');
  } catch {
    return [];
  }
  const dirs: string[] = [];
  for (const match of cache.toString('latin1').matchAll(/\/[\x21-\x7e]*\/libbpf\.so\.1(?=\0)/g)) dirs.push(path.dirname(match[0]));
  return dirs;
}
