// Linux capabilities of this process, for the programs' start-up checks: the agent's (may it
// load BPF programs?) and the runtime's (may it switch its workers' users?).
import fs from 'node:fs';

/** Capability names (uapi/linux/capability.h), index = bit in CapEff. */
const CAPABILITY_NAMES = [
  'chown', 'dac_override', 'dac_read_search', 'fowner', 'fsetid', 'kill', 'setgid', 'setuid', 'setpcap', 'linux_immutable',
  'net_bind_service', 'net_broadcast', 'net_admin', 'net_raw', 'ipc_lock', 'ipc_owner', 'sys_module', 'sys_rawio', 'sys_chroot',
  'sys_ptrace', 'sys_pacct', 'sys_admin', 'sys_boot', 'sys_nice', 'sys_resource', 'sys_time', 'sys_tty_config', 'mknod', 'lease',
  'audit_write', 'audit_control', 'setfcap', 'mac_override', 'mac_admin', 'syslog', 'wake_alarm', 'block_suspend', 'audit_read',
  'perfmon', 'bpf', 'checkpoint_restore',
];

export const CAP_SETGID = 6;
export const CAP_SETUID = 7;
export const CAP_SYS_PTRACE = 19;
export const CAP_SYS_ADMIN = 21;
export const CAP_PERFMON = 38;
export const CAP_BPF = 39;

/** "cap_bpf" for 39. */
export function capabilityName(capability: number): string {
  return `cap_${CAPABILITY_NAMES[capability] ?? capability}`;
}

/** Effective capability numbers of this process (CapEff in /proc/self/status, a hex mask). */
export function effectiveCapabilities(): Set<number> {
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1] ?? '0';
  const mask = BigInt(`0x${hex}`);
  const caps = new Set<number>();
  for (let bit = 0; bit < 64; bit++) if ((mask >> BigInt(bit)) & 1n) caps.add(bit);
  return caps;
}
