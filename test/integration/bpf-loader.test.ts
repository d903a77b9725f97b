// agent/bpf against the real kernel: compile a small CO-RE object, load it through libbpf, feed
// it execs and uprobe hits, read them from the mmapped ring buffer, and check that close()
// leaves no program, link or map behind. Also: verifier failures, missing files, perf events,
// and how fast records drain.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import {
  BPF_NOEXIST,
  BpfError,
  BpfObject,
  RingBuffer,
  checkHost,
  closeAllBpfObjects,
  closePerfEvent,
  onlineCpus,
  openBpfObjectCount,
  openCpuClock,
  perCpuU64,
  possibleCpus,
  sumPerCpuU64,
  type BpfLink,
} from '../../agent/bpf/index.js';

const ROOT = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const FIXTURE = path.join(ROOT, 'test/fixtures/bpf/loader-check.bpf.c');
const WORK = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-bpf-loader-'));
const CHECK_OBJ = path.join(WORK, 'loader-check.bpf.o');
const BAD_OBJ = path.join(WORK, 'loader-bad.bpf.o');
const TARGET = path.join(WORK, 'lc-target');
const PROGRAMS = ['lc_exec', 'lc_hit', 'lc_sample'];
const MAPS = ['lc_events', 'lc_tracked', 'lc_counters'];

// struct lc_record and the counter indexes of loader-check.bpf.c.
const LC_EXEC = 1;
const LC_HIT = 2;
const C_EXEC = 0;
const C_HIT = 1;
const C_DROP = 2;
const C_SAMPLE = 3;
const COOKIE_DISCARD = 0xd15c;
interface LcRecord {
  ts: bigint;
  type: number;
  pid: number;
  ppid: number;
  cookie: bigint;
  comm: string;
}
function decodeRecord(data: Buffer, offset: number, length: number): LcRecord {
  assert.equal(length, 48, 'struct lc_record is 48 bytes');
  const comm = data.subarray(offset + 32, offset + 48);
  const end = comm.indexOf(0);
  return {
    ts: data.readBigUInt64LE(offset),
    type: data.readUInt32LE(offset + 8),
    pid: data.readUInt32LE(offset + 12),
    ppid: data.readUInt32LE(offset + 16),
    cookie: data.readBigUInt64LE(offset + 24),
    comm: comm.toString('utf8', 0, end < 0 ? 16 : end),
  };
}

/** A program that dereferences a map value without the NULL check the verifier demands. */
const BAD_SOURCE = `#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} lc_bad_values SEC(".maps");
SEC("tp_btf/sched_process_exec")
int lc_bad(void *ctx) {
  __u32 key = 0;
  __u64 *value = bpf_map_lookup_elem(&lc_bad_values, &key);
  return *value;
}
char LICENSE[] SEC("license") = "GPL";
`;

/** The uprobe target: lc_target stays out of line and opaque, so every loop turn calls it. */
const TARGET_SOURCE = `#include <stdlib.h>
__attribute__((noinline)) void lc_target(unsigned long i) { __asm__ volatile("" : : "r"(i) : "memory"); }
int main(int argc, char **argv) {
  unsigned long n = argc > 1 ? strtoul(argv[1], 0, 10) : 1;
  for (unsigned long i = 0; i < n; i++) lc_target(i);
  return 0;
}
`;

function run(command: string, args: string[]): string {
  return execFileSync(command, args, { encoding: 'utf8', maxBuffer: 256 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs a program to completion; resolves to its pid. */
function runChild(command: string, args: string[] = []): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code === 0 && child.pid !== undefined) resolve(child.pid);
      else reject(new Error(`${command} exited with ${code ?? signal}`));
    });
  });
}

/** File offset of a symbol: its nm value mapped through the PT_LOAD segment that holds it. */
function uprobeOffset(binary: string, symbol: string): { vaddr: number; offset: number } {
  const line = run('nm', [binary]).split('\n').find((candidate) => candidate.endsWith(` ${symbol}`));
  assert.ok(line !== undefined, `${symbol} is in ${binary}'s symbol table`);
  const vaddr = Number.parseInt(line.split(' ')[0] ?? '', 16);
  const elf = fs.readFileSync(binary);
  assert.equal(elf.toString('latin1', 1, 4), 'ELF');
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (elf.readUInt32LE(ph) !== 1 /* PT_LOAD */) continue;
    const pOffset = Number(elf.readBigUInt64LE(ph + 8));
    const pVaddr = Number(elf.readBigUInt64LE(ph + 16));
    const pFilesz = Number(elf.readBigUInt64LE(ph + 32));
    if (vaddr >= pVaddr && vaddr < pVaddr + pFilesz) return { vaddr, offset: vaddr - pVaddr + pOffset };
  }
  throw new Error(`${symbol} (0x${vaddr.toString(16)}) is in no PT_LOAD segment of ${binary}`);
}

interface BpftoolProg {
  id: number;
  name?: string;
}
interface BpftoolLink {
  id: number;
  prog_id?: number;
}
interface BpftoolMap {
  id: number;
  name?: string;
}
function bpftool<T>(...args: string[]): T[] {
  const out = run('bpftool', [...args, '-j']).trim();
  return out === '' ? [] : (JSON.parse(out) as T[]);
}

/** fds of this process by kind (what /proc/self/fd links to), for leak checks. */
function fdKinds(): Map<string, number> {
  const kinds = new Map<string, number>();
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // the directory's own fd
    }
    const kind = target.startsWith('anon_inode:') ? target : target.split(':')[0] ?? target;
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  }
  return kinds;
}

function fdTarget(fd: number): string | undefined {
  try {
    return fs.readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
}

function bpfMappings(): string[] {
  return fs.readFileSync('/proc/self/maps', 'utf8').split('\n').filter((line) => line.includes('anon_inode:bpf-map'));
}

function cpuMs(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
}

let object: BpfObject | undefined;
let ring: RingBuffer | undefined;
let onRecord: (data: Buffer, offset: number, length: number) => void = () => {};
let fdsBefore: Map<string, number> | undefined;
let targetOffset = 0;

function loaded(): { object: BpfObject; ring: RingBuffer } {
  assert.ok(object !== undefined && ring !== undefined, 'the object was loaded by an earlier test');
  return { object, ring };
}

async function drainUntil(ring: RingBuffer, done: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    ring.drain();
    if (done() || Date.now() >= deadline) return;
    await sleep(5);
  }
}

test('checkHost(): root, BTF and libbpf.so.1 are all here', () => {
  const host = checkHost();
  assert.ok(host.ok, host.ok ? '' : host.missing);
  console.log(`host: kernel ${host.kernel}, ${host.libbpf}, ${possibleCpus().length} possible CPUs`);
});

test('checkHost() without CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN says so in one line', () => {
  const drop = '-bpf,-perfmon,-sys_admin';
  const script = `import { checkHost } from ${JSON.stringify(path.join(ROOT, 'dist/agent/bpf/index.js'))}; console.log(JSON.stringify(checkHost()));`;
  const out = run('setpriv', [`--bounding-set=${drop}`, `--inh-caps=${drop}`, process.execPath, '--input-type=module', '-e', script]);
  const result = JSON.parse(out) as { ok: boolean; missing?: string };
  assert.equal(result.ok, false);
  assert.match(result.missing ?? '', /^needs root or CAP_BPF and CAP_PERFMON \(uid 0 lacks cap_bpf, cap_perfmon, cap_sys_admin; has: cap_chown, .*\) \[kernel /);
  assert.doesNotMatch(result.missing ?? '', /\n/);
});

test('the fixtures compile: vmlinux.h from this kernel, the BPF objects, the uprobe target', () => {
  fs.writeFileSync(path.join(WORK, 'vmlinux.h'), run('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux', 'format', 'c']));
  const bpfCc = (source: string, out: string): string => run('clang', ['-g', '-O2', '-target', 'bpf', '-D__TARGET_ARCH_x86', '-I', WORK, '-c', source, '-o', out]);
  bpfCc(FIXTURE, CHECK_OBJ);
  fs.writeFileSync(path.join(WORK, 'loader-bad.bpf.c'), BAD_SOURCE);
  bpfCc(path.join(WORK, 'loader-bad.bpf.c'), BAD_OBJ);
  fs.writeFileSync(`${TARGET}.c`, TARGET_SOURCE);
  run('clang', ['-O2', '-fno-omit-frame-pointer', '-o', TARGET, `${TARGET}.c`]);
  const { vaddr, offset } = uprobeOffset(TARGET, 'lc_target');
  targetOffset = offset;
  console.log(`lc_target: nm 0x${vaddr.toString(16)}, file offset 0x${offset.toString(16)} (${vaddr === offset ? 'equal: .text vaddr == file offset here' : 'differ'})`);
});

test('opening a missing object file fails with an error naming the file', () => {
  const missing = path.join(WORK, 'no-such.bpf.o');
  assert.throws(
    () => BpfObject.open(missing),
    (err: unknown) => err instanceof BpfError && err.call === 'bpf_object__open_file' && err.code === 'ENOENT' && err.message.includes(missing),
  );
  assert.equal(openBpfObjectCount(), 0);
});

test('a program the verifier rejects fails load() with the verifier complaint, and is closed', () => {
  fdsBefore = fdKinds();
  const bad = BpfObject.open(BAD_OBJ);
  let caught: unknown;
  try {
    bad.load();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof BpfError, `load threw ${String(caught)}`);
  console.log(`verifier error as thrown:\n  ${caught.message.split('\n').join('\n  ')}`);
  assert.equal(caught.call, 'bpf_object__load');
  assert.equal(caught.code, 'EACCES');
  assert.ok(caught.message.includes(BAD_OBJ), 'names the object');
  assert.match(caught.message, /invalid mem access 'map_value_or_null'/);
  assert.ok(bad.closed, 'a failed load closes the object');
  bad.close();
  assert.equal(openBpfObjectCount(), 0);
});

test('load; maps take, give back, list and delete keys', () => {
  object = BpfObject.open(CHECK_OBJ);
  assert.throws(() => object!.map('lc_tracked'), /after load/);
  object.load();
  assert.throws(() => object!.program('nope'), /has no program "nope" \(it has: lc_exec, lc_hit, lc_sample\)/);
  const tracked = object.map('lc_tracked');
  assert.equal(tracked.keySize, 4);
  assert.equal(tracked.valueSize, 4);
  const u32 = (n: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n, 0);
    return b;
  };
  // Keys no real process can have (pid_max is at most 2^22), so they never match an exec.
  const strangers = [0x7ffffff0, 0x7ffffff1];
  tracked.update(u32(process.pid), u32(1));
  for (const key of strangers) tracked.update(u32(key), u32(2));
  assert.deepEqual(tracked.lookup(u32(process.pid)), u32(1));
  assert.equal(tracked.lookup(u32(12345678)), undefined);
  assert.throws(() => tracked.update(u32(process.pid), u32(1), BPF_NOEXIST), (err: unknown) => err instanceof BpfError && err.code === 'EEXIST');
  assert.throws(() => tracked.lookup(Buffer.alloc(8)), TypeError, 'a wrong-size key never reaches the kernel');
  const keys = tracked.keys(4).map((key) => key.readUInt32LE(0)).sort((a, b) => a - b);
  assert.deepEqual(keys, [process.pid, ...strangers].sort((a, b) => a - b));
  const batch = tracked.lookupBatch();
  assert.deepEqual(
    batch.map((entry) => [entry.key.readUInt32LE(0), entry.value.readUInt32LE(0)]).sort((a, b) => a[0]! - b[0]!),
    [[process.pid, 1], [strangers[0], 2], [strangers[1], 2]].sort((a, b) => a[0]! - b[0]!),
  );
  for (const key of strangers) assert.equal(tracked.delete(u32(key)), true);
  assert.equal(tracked.delete(u32(strangers[0]!)), false);
  assert.equal(tracked.keys().length, 1);
  const counters = object.map('lc_counters');
  assert.equal(counters.valueBufferSize, 8 * possibleCpus().length);
  assert.equal(counters.lookupBatch().length, 4, 'batch lookup on a per-CPU array');
  ring = new RingBuffer(object.map('lc_events'), (data, offset, length) => onRecord(data, offset, length));
  assert.equal(ring.size, 8 << 20);
  assert.equal(ring.drain(), 0);
});

test('tp_btf/sched_process_exec: 100 children exec /bin/true, 100 records with their pids and comm "true"', async () => {
  const { object, ring } = loaded();
  const records: LcRecord[] = [];
  onRecord = (data, offset, length) => records.push(decodeRecord(data, offset, length));
  const link = object.attach('lc_exec');
  const before = process.hrtime.bigint();
  const pids = await Promise.all(Array.from({ length: 100 }, () => runChild('/bin/true')));
  const after = process.hrtime.bigint();
  await drainUntil(ring, () => records.length >= 100, 5000);
  await sleep(100);
  ring.drain();
  assert.equal(records.length, 100, 'exactly one record per exec');
  assert.deepEqual(records.map((r) => r.pid).sort((a, b) => a - b), [...pids].sort((a, b) => a - b));
  for (const record of records) {
    assert.equal(record.type, LC_EXEC);
    assert.equal(record.ppid, process.pid);
    assert.equal(record.comm, 'true');
    assert.ok(record.ts >= before && record.ts <= after, 'bpf_ktime_get_ns() and hrtime share CLOCK_MONOTONIC');
  }
  // Later tests exec the uprobe target from this process; those execs must not count.
  link.destroy();
  assert.ok(link.destroyed);
});

test('uprobe at a file offset reports its cookie (0xabcd) and the pid that hit it', async () => {
  const { object, ring } = loaded();
  const records: LcRecord[] = [];
  onRecord = (data, offset, length) => records.push(decodeRecord(data, offset, length));
  const link = object.attachUprobe('lc_hit', TARGET, targetOffset, 0xabcd);
  // Same place, another cookie: the program reserves a record and discards it, which drain()
  // must step over without handing it out.
  const discarding = object.attachUprobe('lc_hit', TARGET, targetOffset, COOKIE_DISCARD);
  const before = ring.consumerPosition;
  const pid = await runChild(TARGET, ['1']);
  await drainUntil(ring, () => records.length >= 1, 3000);
  await sleep(50);
  ring.drain();
  link.destroy();
  link.destroy();
  discarding.destroy();
  assert.equal(records.length, 1);
  assert.equal(ring.consumerPosition - before, 2 * 56, 'two records consumed, one of them discarded');
  assert.deepEqual(
    { type: records[0]!.type, pid: records[0]!.pid, cookie: records[0]!.cookie, comm: records[0]!.comm },
    { type: LC_HIT, pid, cookie: 0xabcdn, comm: 'lc-target' },
  );
  await runChild(TARGET, ['1']);
  await sleep(50);
  assert.equal(ring.drain(), 0, 'a destroyed link no longer fires');
  assert.throws(
    () => object.attachUprobe('lc_hit', path.join(WORK, 'no-such-binary'), 0x1000, 1),
    (err: unknown) => err instanceof BpfError && err.call === 'bpf_program__attach_uprobe_opts' && err.message.includes('no-such-binary'),
  );
});

test('a handler that throws loses only its own record', async () => {
  const { object, ring } = loaded();
  const seen: number[] = [];
  onRecord = (data, offset, length) => {
    seen.push(decodeRecord(data, offset, length).pid);
    if (seen.length === 1) throw new Error('handler failure');
  };
  const link = object.attachUprobe('lc_hit', TARGET, targetOffset, 7);
  await runChild(TARGET, ['3']);
  link.destroy();
  assert.throws(() => ring.drain(), /handler failure/);
  assert.equal(ring.drain(), 2, 'the failed record was released, the others follow');
  assert.equal(seen.length, 3);
  assert.equal(ring.drain(), 0);
});

test('per-CPU counters sum across every possible CPU', () => {
  const counters = loaded().object.map('lc_counters');
  assert.equal(perCpuU64(counters, C_EXEC).length, possibleCpus().length);
  assert.equal(sumPerCpuU64(counters, C_EXEC), 100n);
  assert.equal(sumPerCpuU64(counters, C_HIT), 2n + 3n, 'uprobe test (kept and discarded) and the throwing-handler test');
  assert.equal(sumPerCpuU64(counters, C_DROP), 0n);
});

test('perf_event: openCpuClock opens and closes; a perf_event program samples on every CPU', () => {
  const fd = openCpuClock(0, 99);
  assert.ok(fd > 2);
  assert.equal(fs.readlinkSync(`/proc/self/fd/${fd}`), 'anon_inode:[perf_event]');
  closePerfEvent(fd);
  assert.equal(fdTarget(fd), undefined);
  assert.throws(() => openCpuClock(4096, 99), (err: unknown) => err instanceof BpfError && err.call === 'perf_event_open');

  const { object } = loaded();
  const counters = object.map('lc_counters');
  const fds: number[] = [];
  const links: BpfLink[] = onlineCpus().map((cpu) => {
    const perfFd = openCpuClock(cpu, 999);
    fds.push(perfFd);
    return object.attachPerfEvent('lc_sample', perfFd);
  });
  const until = Date.now() + 300;
  while (Date.now() < until) Math.sqrt(Math.random());
  for (const link of links) link.destroy();
  const samples = sumPerCpuU64(counters, C_SAMPLE);
  console.log(`perf_event: ${samples} samples in 300 ms over ${links.length} CPUs at 999 Hz`);
  assert.ok(samples > 0n);
  for (const perfFd of fds) assert.notEqual(fdTarget(perfFd), 'anon_inode:[perf_event]', 'the link closed its perf fd');
});

test('throughput: 100k uprobe records, drained from a full ring and end to end', async () => {
  const { object, ring } = loaded();
  const counters = object.map('lc_counters');
  const N = 100_000;
  const COOKIE = 0x5151;
  let hits = 0;
  let wrong = 0;
  // A light decode, as a real consumer does: type and cookie of every record.
  onRecord = (data, offset) => {
    if (data.readUInt32LE(offset + 8) !== LC_HIT || data.readUInt32LE(offset + 24) !== COOKIE) wrong++;
    else hits++;
  };
  const link = object.attachUprobe('lc_hit', TARGET, targetOffset, COOKIE);

  // 1. Produced with nobody reading, then one drain(): the cost of parsing alone.
  let t = process.hrtime.bigint();
  await runChild(TARGET, [String(N)]);
  const produceMs = Number(process.hrtime.bigint() - t) / 1e6;
  let cpu = process.cpuUsage();
  t = process.hrtime.bigint();
  const drained = ring.drain();
  const drainMs = Number(process.hrtime.bigint() - t) / 1e6;
  const drainCpu = cpuMs(cpu);
  assert.equal(drained, N);
  assert.equal(hits, N);
  assert.equal(wrong, 0);
  console.log(
    `drain of a full ring: ${N} records in ${drainMs.toFixed(1)} ms = ${(N / drainMs / 1000).toFixed(2)} M records/s, ` +
      `Node CPU ${drainCpu.toFixed(1)} ms (${((drainCpu * 1e6) / N).toFixed(0)} ns/record); producing them took ${produceMs.toFixed(0)} ms`,
  );

  // 2. Read while produced, draining every 5 ms as the agent's timer does (at a slower pace):
  // end to end, limited by the uprobe's cost.
  hits = 0;
  cpu = process.cpuUsage();
  t = process.hrtime.bigint();
  const poller = setInterval(() => ring.drain(), 5);
  await runChild(TARGET, [String(N)]);
  const deadline = Date.now() + 10_000;
  while (hits < N && Date.now() < deadline) await sleep(5);
  clearInterval(poller);
  const wallMs = Number(process.hrtime.bigint() - t) / 1e6;
  const loopCpu = cpuMs(cpu);
  assert.equal(hits, N);
  assert.equal(wrong, 0);
  assert.equal(ring.pending(), false);
  // 56-byte records from position 0 in an 8 MiB ring: one straddled the end of the data area
  // and was read whole through the second mapping.
  assert.ok(ring.consumerPosition > ring.size, 'the ring wrapped');
  assert.equal(sumPerCpuU64(counters, C_DROP), 0n, 'nothing was dropped');
  console.log(
    `end to end: ${N} records in ${wallMs.toFixed(0)} ms = ${((N / wallMs) * 1000).toFixed(0)} records/s, ` +
      `Node CPU ${loopCpu.toFixed(0)} ms (${((loopCpu * 1000) / N).toFixed(2)} µs/record, including spawning the producer)`,
  );
  link.destroy();
});

test('close() destroys links, unmaps the ring, closes every fd; bpftool shows nothing left', async () => {
  const { object, ring } = loaded();
  object.attach('lc_exec');
  object.attachUprobe('lc_hit', TARGET, targetOffset, 1);
  const second = BpfObject.open(CHECK_OBJ);
  second.load();
  second.attach('lc_exec');
  const secondRing = new RingBuffer(second.map('lc_events'), () => {});

  const progs = bpftool<BpftoolProg>('prog', 'show').filter((prog) => PROGRAMS.includes(prog.name ?? ''));
  assert.equal(progs.length, 2 * PROGRAMS.length, 'both objects\' programs are loaded');
  const progIds = new Set(progs.map((prog) => prog.id));
  const links = bpftool<BpftoolLink>('link', 'show').filter((link) => progIds.has(link.prog_id ?? -1));
  assert.equal(links.length, 3, 'lc_exec in both objects, lc_hit in the first');
  const mapIds = new Set(bpftool<BpftoolMap>('map', 'show').filter((map) => MAPS.includes(map.name ?? '')).map((map) => map.id));
  assert.equal(mapIds.size, 2 * MAPS.length);
  assert.ok(bpfMappings().length >= 4, 'both rings are mapped');
  assert.equal(openBpfObjectCount(), 2);

  object.close();
  object.close();
  assert.ok(ring.isClosed, 'closing the object closed its ring buffer');
  assert.throws(() => object.map('lc_tracked'), /closed/);
  assert.deepEqual(closeAllBpfObjects(), [], 'the second object closes cleanly');
  assert.ok(second.closed && secondRing.isClosed);
  assert.equal(openBpfObjectCount(), 0);

  // Program and map ids are freed after an RCU grace period, so allow a moment.
  const deadline = Date.now() + 3000;
  const left = (): string[] => [
    ...bpftool<BpftoolProg>('prog', 'show').filter((prog) => progIds.has(prog.id) || PROGRAMS.includes(prog.name ?? '')).map((prog) => `prog ${prog.id} ${prog.name}`),
    ...bpftool<BpftoolLink>('link', 'show').filter((link) => progIds.has(link.prog_id ?? -1)).map((link) => `link ${link.id}`),
    ...bpftool<BpftoolMap>('map', 'show').filter((map) => mapIds.has(map.id)).map((map) => `map ${map.id} ${map.name}`),
  ];
  while (left().length > 0 && Date.now() < deadline) await sleep(50);
  assert.deepEqual(left(), []);
  assert.deepEqual(bpfMappings(), [], 'no ring buffer mapping is left');
  const fdsAfter = fdKinds();
  for (const kind of ['anon_inode:bpf-map', 'anon_inode:bpf-prog', 'anon_inode:bpf_link', 'anon_inode:[perf_event]']) {
    assert.equal(fdsAfter.get(kind) ?? 0, fdsBefore?.get(kind) ?? 0, `no ${kind} fd is left`);
  }
  object.close();
});

test.after(() => {
  closeAllBpfObjects();
  fs.rmSync(WORK, { recursive: true, force: true });
});

test.run();
