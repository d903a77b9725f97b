// Symbolisation of sampled stacks against real files: Go programs built here (static, stripped,
// PIE, deleted after start), this Node process's libc and node binary, /proc/kallsyms, and
// perf maps written to a temporary directory. Expected answers come from go tool nm,
// go tool addr2line, readelf, nm and c++filt, never from the code under test.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import type { Frame } from '../../agent/profile/model.js';
import { AddressTable, newestWins } from '../../agent/profile/symbolize/address-table.js';
import { Memo } from '../../agent/profile/symbolize/memo.js';
import { demangle, jitFrame, KernelSymbols, parseProcMaps, Symbolizer } from '../../agent/profile/symbolize/index.js';
import { findGo } from '../../runtime/build/go.js';

// test/run.ts counts a test that prints a line starting with this as skipped, not passed.
const SKIP = 'HEARTH-SKIP';
/** Far above any pid_max: a process that never existed, so only what is given resolves it. */
const NO_SUCH_PID = 2_000_000_000;

const GO_PROGRAM = `package main

import (
	"os"
	"strconv"
	"time"
)

//go:noinline
func leafWork(n int) int {
	s := 0
	for i := 0; i < n; i++ {
		s += i * i % 7
	}
	return s
}

//go:noinline
func middleWork(n int) int {
	return leafWork(n) + 1
}

func main() {
	ms := 0
	if len(os.Args) > 1 {
		ms, _ = strconv.Atoi(os.Args[1])
	}
	if middleWork(1000) < 0 {
		os.Exit(2)
	}
	time.Sleep(time.Duration(ms) * time.Millisecond)
}
`;
/** Leaf first, as a sampled stack lists them. */
const GO_STACK = ['main.leafWork', 'main.middleWork', 'main.main'];

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-profile-symbols-'));
const go = findGo();
const bins = { static: path.join(tmp, 'work'), stripped: path.join(tmp, 'work-stripped'), pie: path.join(tmp, 'work-pie') };
const children: ChildProcess[] = [];

function run(command: string, args: string[], input?: string): string {
  return execFileSync(command, args, { encoding: 'utf8', input, maxBuffer: 256 * 1024 * 1024, env: { ...process.env, CGO_ENABLED: '0' }, cwd: tmp, stdio: 'pipe' });
}

function skip(name: string, reason: string): void {
  console.log(`${SKIP} ${name}: ${reason}`);
}

/** Function name → {address, size} from `go tool nm -size`. */
function goFunctions(binary: string): Map<string, { address: number; size: number }> {
  const found = new Map<string, { address: number; size: number }>();
  for (const m of run(go!, ['tool', 'nm', '-size', binary]).matchAll(/^\s*([0-9a-f]+)\s+(\d+)\s+[Tt]\s+(\S+)$/gm)) {
    found.set(m[3]!, { address: parseInt(m[1]!, 16), size: Number(m[2]) });
  }
  return found;
}

/** A PC in the middle of each function of GO_STACK, leaf first. */
function goStackPcs(binary: string): number[] {
  const functions = goFunctions(binary);
  return GO_STACK.map((name) => {
    const f = functions.get(name);
    assert.ok(f !== undefined, `go tool nm lists no ${name}`);
    return f.address + Math.floor(f.size / 2);
  });
}

/** [file, line] for each PC, from go tool addr2line. */
function addr2line(binary: string, pcs: number[]): [string, number][] {
  const lines = run(go!, ['tool', 'addr2line', binary], pcs.map((pc) => `0x${pc.toString(16)}`).join('\n') + '\n').trim().split('\n');
  return pcs.map((_, i) => {
    const location = lines[2 * i + 1]!;
    const colon = location.lastIndexOf(':');
    return [location.slice(0, colon), Number(location.slice(colon + 1))];
  });
}

/** The lookups a stack gets: the leaf as it is, every caller one byte back (the call instruction). */
function callSites(pcs: number[]): number[] {
  return pcs.map((pc, i) => (i === 0 ? pc : pc - 1));
}

/** Where a virtual address of a mapped file is in a live process, by readelf's LOAD lines and the process's maps. */
function runtimeAddress(pid: number, file: string, vaddr: number): number {
  const load = [...run('readelf', ['-lW', file]).matchAll(/^\s*LOAD\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)/gm)]
    .map((m) => ({ offset: parseInt(m[1]!, 16), vaddr: parseInt(m[2]!, 16), filesz: parseInt(m[3]!, 16) }))
    .find((s) => vaddr >= s.vaddr && vaddr < s.vaddr + s.filesz);
  assert.ok(load !== undefined, `readelf: ${vaddr.toString(16)} is in no LOAD segment of ${file}`);
  const fileOffset = load.offset + (vaddr - load.vaddr);
  const real = fs.realpathSync(file);
  for (const line of fs.readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) \S+ ([0-9a-f]+) \S+ \d+\s+(.+)$/.exec(line);
    if (m === null || m[4]!.replace(/ \(deleted\)$/, '') !== real) continue;
    const [start, end, offset] = [parseInt(m[1]!, 16), parseInt(m[2]!, 16), parseInt(m[3]!, 16)];
    if (fileOffset >= offset && fileOffset < offset + (end - start)) return start + (fileOffset - offset);
  }
  throw new Error(`${file} offset ${fileOffset.toString(16)} is not mapped in process ${pid}`);
}

/** Starts a built Go program that sleeps for `ms`, once it has exec'd. */
async function startGo(binary: string, ms: number): Promise<ChildProcess> {
  const child = spawn(binary, [String(ms)], { stdio: 'ignore' });
  children.push(child);
  await new Promise((resolve, reject) => child.once('spawn', resolve).once('error', reject));
  return child;
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()));
}

function checkGoFrames(frames: Frame[], binary: string, pcs: number[]): void {
  const expected = addr2line(binary, callSites(pcs));
  assert.deepEqual(frames.map((f) => f.name), [...GO_STACK].reverse(), 'root first');
  [...frames].reverse().forEach((frame, i) => {
    assert.equal(frame.kind, 'go', frame.name);
    assert.equal(frame.module, path.basename(binary));
    assert.deepEqual([frame.file, frame.line], expected[i], `${frame.name}: file:line differ from go tool addr2line`);
  });
}

test.before(() => {
  if (go === undefined) return;
  fs.writeFileSync(path.join(tmp, 'go.mod'), 'module example.com/work\n\ngo 1.22\n');
  fs.writeFileSync(path.join(tmp, 'main.go'), GO_PROGRAM);
  run(go, ['build', '-o', bins.static, '.']);
  run(go, ['build', '-ldflags=-s -w', '-o', bins.stripped, '.']);
  run(go, ['build', '-buildmode=pie', '-o', bins.pie, '.']);
});

test.after(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('Go, static: a process never seen resolves through its binary, with go tool addr2line\'s file:line', () => {
  if (go === undefined) return skip('go static', 'no go toolchain');
  const pcs = goStackPcs(bins.static);
  const frames = new Symbolizer().resolve(NO_SUCH_PID, pcs.map(BigInt), [], { binary: bins.static });
  checkGoFrames(frames, bins.static, pcs);
});

test('Go, stripped (-s -w): the same names and lines from .gopclntab alone', () => {
  if (go === undefined) return skip('go stripped', 'no go toolchain');
  assert.throws(() => run(go, ['tool', 'nm', bins.stripped]), 'go tool nm should find no symbols in a stripped binary');
  // -s -w drops tables, not code: the functions sit where they do in the normal build.
  const pcs = goStackPcs(bins.static);
  const frames = new Symbolizer().resolve(NO_SUCH_PID, pcs.map(BigInt), [], { binary: bins.stripped });
  checkGoFrames(frames, bins.stripped, pcs);
});

test('Go, PIE: a process that exited resolves from the snapshot taken while it ran', async () => {
  if (go === undefined) return skip('go pie exited', 'no go toolchain');
  const child = await startGo(bins.pie, 300);
  const symbolizer = new Symbolizer();
  symbolizer.observe(child.pid!);
  const pcs = goStackPcs(bins.pie);
  const runtime = pcs.map((pc) => runtimeAddress(child.pid!, bins.pie, pc));
  assert.notDeepEqual(runtime, pcs, 'a PIE runs away from its link addresses');
  await exited(child);
  assert.equal(fs.existsSync(`/proc/${child.pid}`), false, 'the process is gone');
  checkGoFrames(symbolizer.resolve(child.pid!, runtime.map(BigInt), []), bins.pie, pcs);
  symbolizer.forget(child.pid!);
  const forgotten = symbolizer.resolve(child.pid!, runtime.map(BigInt), []);
  assert.deepEqual(forgotten.map((f) => [f.name, f.module]), runtime.map(() => ['[unknown]', '[unmapped]']), 'forget drops the snapshot');
});

test('Go: a binary deleted after start still resolves, through /proc/PID/map_files', async () => {
  if (go === undefined) return skip('go deleted', 'no go toolchain');
  const copy = path.join(tmp, 'work-deleted');
  fs.copyFileSync(bins.static, copy);
  const child = await startGo(copy, 60_000);
  fs.rmSync(copy);
  const symbolizer = new Symbolizer();
  symbolizer.observe(child.pid!);
  const pcs = goStackPcs(bins.static);
  const frames = symbolizer.resolve(child.pid!, pcs.map(BigInt), []);
  child.kill('SIGKILL');
  assert.deepEqual(frames.map((f) => [f.name, f.kind, f.module]), [...GO_STACK].reverse().map((name) => [name, 'go', 'work-deleted']));
  assert.deepEqual(symbolizer.takeErrors(), []);
});

test('native: libc\'s getpid and node::Start in this process, by readelf and nm', () => {
  const libc = fs.readFileSync('/proc/self/maps', 'utf8').split('\n').map((line) => line.split(/\s+/)[5] ?? '').find((file) => /\/libc\.so\.6$/.test(file));
  if (libc === undefined) return skip('native libc', 'this process maps no libc.so.6 (static node?)');
  const getpid = /^\s*\d+: ([0-9a-f]+)\s+\d+\s+FUNC\s+\S+\s+\S+\s+\d+ getpid(@|$)/m.exec(run('readelf', ['--dyn-syms', '-W', libc]));
  assert.ok(getpid !== null, `readelf lists no getpid in ${libc}`);
  const getpidAt = runtimeAddress(process.pid, libc, parseInt(getpid[1]!, 16));
  const symbolizer = new Symbolizer();
  symbolizer.observe(process.pid);
  const frames = symbolizer.resolve(process.pid, [BigInt(getpidAt), BigInt(getpidAt + 1)], []);
  assert.deepEqual(frames.map((f) => [f.name, f.kind, f.module]), [['getpid', 'native', 'libc.so.6'], ['getpid', 'native', 'libc.so.6']], 'as a return address and as the leaf');

  const start = /^([0-9a-f]+) T _ZN4node5StartEiPPc$/m.exec(run('nm', ['--defined-only', process.execPath]));
  if (start === null) return skip('native node::Start', `${process.execPath} has no symbol table`);
  const [frame] = symbolizer.resolve(process.pid, [BigInt(runtimeAddress(process.pid, process.execPath, parseInt(start[1]!, 16)))], []);
  assert.deepEqual([frame!.name, frame!.kind, frame!.module], ['node::Start', 'native', path.basename(process.execPath)]);
});

test('a library loaded after the snapshot resolves: the miss re-reads the maps of the live process', async () => {
  const symbolizer = new Symbolizer();
  symbolizer.observe(process.pid);
  const addonMapped = (): string | undefined => fs.readFileSync('/proc/self/maps', 'utf8').match(/\S*ffi-rs\.linux-x64-gnu\.node$/m)?.[0];
  if (addonMapped() !== undefined) return skip('maps refresh', 'the ffi-rs addon was loaded before the snapshot');
  try {
    await import('ffi-rs');
  } catch (error) {
    return skip('maps refresh', `the ffi-rs addon does not load here: ${(error as Error).message}`);
  }
  const addon = addonMapped();
  if (addon === undefined) return skip('maps refresh', 'ffi-rs loaded without its linux-x64-gnu addon');
  const register = /^\s*\d+: ([0-9a-f]+)\s+\d+\s+FUNC\s+\S+\s+\S+\s+\d+ napi_register_module_v1$/m.exec(run('readelf', ['--dyn-syms', '-W', addon]));
  assert.ok(register !== null, `readelf lists no napi_register_module_v1 in ${addon}`);
  const [frame] = symbolizer.resolve(process.pid, [BigInt(runtimeAddress(process.pid, addon, parseInt(register[1]!, 16)))], []);
  assert.deepEqual([frame!.name, frame!.kind, frame!.module], ['napi_register_module_v1', 'native', path.basename(addon)]);
});

test('unmapped and special addresses keep their place as [unknown] frames', () => {
  const symbolizer = new Symbolizer();
  symbolizer.observe(process.pid);
  const vdso = /^([0-9a-f]+)-[0-9a-f]+ r-xp .*\[vdso\]$/m.exec(fs.readFileSync('/proc/self/maps', 'utf8'));
  const user = [0x10n, ...(vdso === null ? [] : [BigInt(parseInt(vdso[1]!, 16) + 0x10)])];
  const frames = symbolizer.resolve(process.pid, user, []);
  const expected = [['[unknown]', '[unmapped]', 'unknown'], ...(vdso === null ? [] : [['[unknown]', '[vdso]', 'unknown']])].reverse();
  assert.deepEqual(frames.map((f) => [f.name, f.module, f.kind]), expected);
});

test('kallsyms: a kernel symbol resolves to its name, root first after the user frames', () => {
  const text = fs.readFileSync('/proc/kallsyms', 'latin1');
  const lines = [...text.matchAll(/^([0-9a-f]+) ([tT]) (\S+)(?:\t\[(\S+)\])?$/gm)];
  if (lines.every((m) => /^0+$/.test(m[1]!))) return skip('kallsyms', 'every address in /proc/kallsyms is zero (kptr_restrict): run as root');
  const count = new Map<string, number>();
  for (const m of text.matchAll(/^([0-9a-f]+) /gm)) count.set(m[1]!, (count.get(m[1]!) ?? 0) + 1);
  const unique = (module: boolean): RegExpMatchArray | undefined => lines.find((m) => count.get(m[1]!) === 1 && (m[4] !== undefined) === module && m[3] !== '_stext');
  const core = unique(false);
  assert.ok(core !== undefined, 'a core kernel text symbol with an address of its own');
  const symbolizer = new Symbolizer();
  const kernel = BigInt(`0x${core[1]}`);
  const frames = symbolizer.resolve(NO_SUCH_PID, [0x10n], [kernel, kernel + 1n]);
  assert.deepEqual(frames.map((f) => [f.name, f.module, f.kind]), [
    ['[unknown]', '[unmapped]', 'unknown'],
    [core[3], '[kernel]', 'kernel'],
    [core[3], '[kernel]', 'kernel'],
  ]);
  const inModule = unique(true);
  if (inModule === undefined) return skip('kallsyms module', 'no loaded module has a text symbol of its own address');
  const [frame] = symbolizer.resolve(NO_SUCH_PID, [], [BigInt(`0x${inModule[1]}`)]);
  assert.deepEqual([frame!.name, frame!.module], [inModule[3], `[${inModule[4]}]`]);
});

test('kallsyms: zero addresses (kptr_restrict) and addresses past the last symbol are [unknown] in [kernel]', () => {
  const restricted = path.join(tmp, 'kallsyms-restricted');
  fs.writeFileSync(restricted, '0000000000000000 T _text\n0000000000000000 T do_sys_open\n');
  assert.equal(KernelSymbols.load(restricted).restricted, true);
  const file = path.join(tmp, 'kallsyms');
  fs.writeFileSync(file, 'ffffffff81000000 T _text\nffffffff81000000 T first_function\nffffffff81000100 t second_function\nffffffff81000200 d some_data\nffffffffc0000000 t mod_function\t[some_mod]\n');
  assert.equal(KernelSymbols.load(file).restricted, false);
  const kernel = (path: string, addresses: bigint[]): string[][] => new Symbolizer({ kallsymsPath: path }).resolve(NO_SUCH_PID, [], addresses).map((f) => [f.name, f.module, f.kind]);
  assert.deepEqual(kernel(restricted, [0xffffffff81000010n]), [['[unknown]', '[kernel]', 'unknown']]);
  assert.deepEqual(kernel(file, [0xffffffff81000010n]), [['first_function', '[kernel]', 'kernel']], 'the public name of two at one address');
  assert.deepEqual(kernel(file, [0xffffffff81000210n]), [['second_function', '[kernel]', 'kernel']], 'data symbols do not end functions');
  assert.deepEqual(kernel(file, [0xffffffffc0000000n]), [['mod_function', '[some_mod]', 'kernel']]);
  assert.deepEqual(kernel(file, [0xffffffffc0000010n]), [['[unknown]', '[kernel]', 'unknown']], 'past the last symbol');
  const broken = path.join(tmp, 'kallsyms-broken');
  fs.writeFileSync(broken, 'ffffffff81000000 T _text\nnot a symbol line\n');
  assert.throws(() => KernelSymbols.load(broken), /kallsyms-broken:2: want "ADDRESS TYPE NAME \[MODULE\]"/);
  const symbolizer = new Symbolizer({ kallsymsPath: broken });
  assert.equal(symbolizer.resolve(NO_SUCH_PID, [], [0xffffffff81000000n])[0]!.name, '[unknown]');
  assert.match(symbolizer.takeErrors().map((e) => e.message).join('\n'), /kallsyms-broken:2/);
});

test('perf map: JIT frames get readable names, and lines appended later are picked up', () => {
  const dir = fs.mkdtempSync(path.join(tmp, 'perf-maps-'));
  const file = path.join(dir, `perf-${NO_SUCH_PID}.map`);
  const lines = [
    '7f01fc043580 1cc JS:*foo file:///srv/app/main.mjs:12:3',
    '7f01fc043780 234 LazyCompile:*bar /srv/app/lib.js:7',
    '7f01fc043a00 2e0 JS:^ node:internal/main/run_main_module:1:1',
    '7f01fc043d00 40 JS:*get total /srv/my app/cart.js:5:9',
  ];
  fs.writeFileSync(file, lines.join('\n') + '\n');
  const symbolizer = new Symbolizer({ perfMapDir: dir });
  const at = (address: bigint): Frame => symbolizer.resolve(NO_SUCH_PID, [address], [])[0]!;
  assert.deepEqual(at(0x7f01fc043590n), { name: 'foo /srv/app/main.mjs:12', module: '[jit]', kind: 'js', file: '/srv/app/main.mjs', line: 12 });
  assert.deepEqual(at(0x7f01fc043790n), { name: 'bar /srv/app/lib.js:7', module: '[jit]', kind: 'js', file: '/srv/app/lib.js', line: 7 });
  assert.equal(at(0x7f01fc043a10n).name, '(anonymous) node:internal/main/run_main_module:1');
  assert.deepEqual([at(0x7f01fc043d10n).name, at(0x7f01fc043d10n).file], ['get total /srv/my app/cart.js:5', '/srv/my app/cart.js'], 'spaces in the name and the path');
  assert.deepEqual([at(0x7f01fc050010n).name, at(0x7f01fc050010n).module], ['[unknown]', '[unmapped]'], 'not compiled yet');
  // V8 appends as it compiles; a line it is still writing is not read until it is whole.
  fs.appendFileSync(file, '7f01fc050000 40 JS:~later /srv/app/main.mjs:30:1\n7f01fc060000 40 JS:~half');
  assert.equal(at(0x7f01fc050010n).name, 'later /srv/app/main.mjs:30');
  assert.equal(at(0x7f01fc060010n).name, '[unknown]');
  fs.appendFileSync(file, 'way /srv/app/main.mjs:40:1\n');
  assert.equal(at(0x7f01fc060010n).name, 'halfway /srv/app/main.mjs:40');
  // Code space reused: the later line for an address is the code there now.
  fs.appendFileSync(file, '7f01fc043580 1cc JS:*reused /srv/app/main.mjs:50:1\n');
  assert.equal(at(0x7f01fc043590n).name, 'foo /srv/app/main.mjs:12', 'a known address is not re-read');
  assert.equal(at(0x7f01fc070000n).name, '[unknown]');
  assert.equal(at(0x7f01fc043590n).name, 'reused /srv/app/main.mjs:50', 'the next read takes the later line');
  // Reused at other boundaries: newer code starting before an older entry hides the overlapped part of it.
  fs.appendFileSync(file, '7f01fc043500 100 JS:*shifted /srv/app/main.mjs:60:1\n');
  assert.equal(at(0x7f01fc071000n).name, '[unknown]');
  assert.equal(at(0x7f01fc043590n).name, 'shifted /srv/app/main.mjs:60', 'an older entry starting inside newer code does not name it');
  assert.equal(at(0x7f01fc043610n).name, 'reused /srv/app/main.mjs:50', 'the older entry keeps what no newer one covers');
  // Replaced again, with no miss to prompt a read: the next batch of samples reads it first.
  fs.appendFileSync(file, '7f01fc043500 100 JS:*replaced /srv/app/main.mjs:70:1\n');
  assert.equal(at(0x7f01fc043590n).name, 'shifted /srv/app/main.mjs:60', 'within a batch, a known address is not re-read');
  symbolizer.newBatch();
  assert.equal(at(0x7f01fc043590n).name, 'replaced /srv/app/main.mjs:70', 'a new batch reads what was appended');
  assert.deepEqual(jitFrame('Builtin:ArrayPrototypePush'), { name: 'Builtin:ArrayPrototypePush', module: '[jit]', kind: 'js' });
});

test('newestWins: every address belongs to the newest range covering it, against a brute-force check', () => {
  let seed = 7;
  const random = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  for (let round = 0; round < 50; round++) {
    const ranges = Array.from({ length: 1 + random(40) }, (_, order) => ({ start: random(500), size: random(80), value: order }));
    const pieces = newestWins(ranges);
    const sorted = [...pieces].sort((a, b) => a.start - b.start);
    sorted.forEach((piece, i) => assert.ok(i === 0 || sorted[i - 1]!.start + sorted[i - 1]!.size <= piece.start, 'pieces are disjoint'));
    const table = new AddressTable(pieces, () => false);
    for (let address = 0; address < 600; address++) {
      let newest: number | undefined;
      for (const range of ranges) if (address >= range.start && address < range.start + Math.max(range.size, 1)) newest = range.value;
      assert.equal(table.find(address), newest, `round ${round}, address ${address}`);
    }
  }
});

test('perf map: a real Node process\'s JIT code, in its anonymous mappings', async () => {
  const source = 'function hotLoop(n) { let s = 0; for (let i = 0; i < n; i++) s += i % 7; return s; }\nfor (let i = 0; i < 2000; i++) hotLoop(10000);\nsetTimeout(() => {}, 60000);\n';
  const script = path.join(tmp, 'hot.js');
  fs.writeFileSync(script, source);
  // In the temp dir: --perf-basic-prof also writes an isolate log into the working directory.
  const child = spawn(process.execPath, ['--perf-basic-prof', script], { stdio: 'ignore', cwd: tmp });
  children.push(child);
  await new Promise((resolve, reject) => child.once('spawn', resolve).once('error', reject));
  const file = `/tmp/perf-${child.pid}.map`;
  try {
    let line: RegExpExecArray | null = null;
    for (const deadline = Date.now() + 10_000; line === null && Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
      line = fs.existsSync(file) ? /^([0-9a-f]+) ([0-9a-f]+) JS:\*hotLoop .*$/m.exec(fs.readFileSync(file, 'utf8')) : null;
    }
    assert.ok(line !== null, `${file} never listed optimised code for hotLoop`);
    const address = parseInt(line[1]!, 16) + Math.floor(parseInt(line[2]!, 16) / 2);
    const mapping = parseProcMaps('maps', fs.readFileSync(`/proc/${child.pid}/maps`, 'utf8')).find((m) => address >= m.start && address < m.end);
    assert.equal(mapping?.kind, 'anonymous', 'V8 keeps JIT code in anonymous memory');
    const symbolizer = new Symbolizer();
    symbolizer.observe(child.pid!);
    const [frame] = symbolizer.resolve(child.pid!, [BigInt(address)], []);
    assert.deepEqual([frame!.name, frame!.kind, frame!.module, frame!.file, frame!.line], [`hotLoop ${script}:1`, 'js', '[jit]', script, 1]);
  } finally {
    child.kill('SIGKILL');
    fs.rmSync(file, { force: true });
  }
});

test('proc maps: executable mappings only, with deleted files and special and anonymous ones named', () => {
  const maps = [
    '00400000-00401000 r--p 00000000 fe:00 1234                               /srv/fn/work',
    '00401000-00480000 r-xp 00001000 fe:00 1234                               /srv/fn/work (deleted)',
    '7f0000000000-7f0000010000 rwxp 00000000 00:00 0 ',
    '7f0000020000-7f0000030000 r-xp 00000000 00:00 0                          [anon:v8 code]',
    '7ffd1c5f2000-7ffd1c5f4000 r-xp 00000000 00:00 0                          [vdso]',
    'ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]',
    '',
  ].join('\n');
  assert.deepEqual(parseProcMaps('maps', maps), [
    { start: 0x401000, end: 0x480000, offset: 0x1000, path: '/srv/fn/work', kind: 'file', deleted: true },
    { start: 0x7f0000000000, end: 0x7f0000010000, offset: 0, path: '', kind: 'anonymous', deleted: false },
    { start: 0x7f0000020000, end: 0x7f0000030000, offset: 0, path: '', kind: 'anonymous', deleted: false },
    { start: 0x7ffd1c5f2000, end: 0x7ffd1c5f4000, offset: 0, path: '[vdso]', kind: 'special', deleted: false },
  ]);
  assert.throws(() => parseProcMaps('/proc/1/maps', '00400000 r-xp\n'), /\/proc\/1\/maps:1: want/);
});

test('demangle: names as c++filt gives them, less parameters, template arguments and clone suffixes', () => {
  assert.equal(demangle('_ZN2v88internal4Heap14CollectGarbageENS0_15AllocationSpaceENS0_23GarbageCollectionReasonENS_15GCCallbackFlagsE'), 'v8::internal::Heap::CollectGarbage');
  assert.equal(demangle('_ZNKSt6vectorIiSaIiEE4sizeEv'), 'std::vector::size');
  assert.equal(demangle('_ZN12_GLOBAL__N_112KeywordsSinkD0Ev.cold'), '(anonymous namespace)::KeywordsSink::~KeywordsSink');
  assert.equal(demangle('_ZZN4node5StartEiPPcENKUlvE_clEv'), 'node::Start::{lambda#1}::operator()');
  assert.equal(demangle('getpid'), 'getpid');
  assert.equal(demangle('_ZN2v88internal'), '_ZN2v88internal', 'a truncated symbol is left as it is');
  let filt: string;
  try {
    filt = run('c++filt', [], '_Z1fv\n');
  } catch {
    return skip('demangle against c++filt', 'no c++filt');
  }
  assert.equal(filt.trim(), 'f()');
  const mangled = [...run('nm', ['--defined-only', process.execPath]).matchAll(/^[0-9a-f]+ [tTwW] (_Z\S+)$/gm)].map((m) => m[1]!);
  if (mangled.length === 0) return skip('demangle against c++filt', `${process.execPath} has no C++ symbols`);
  const full = run('c++filt', [], mangled.join('\n') + '\n').split('\n');
  let compared = 0;
  const wrong: string[] = [];
  mangled.forEach((symbol, i) => {
    const ours = demangle(symbol);
    const theirs = full[i]!;
    // Operators, decltype and literals hold the brackets the comparison strips.
    if (ours === symbol || theirs === symbol || /operator|decltype|\{default arg|string literal|thunk|TLS/.test(theirs)) return;
    compared++;
    if (ours !== simplify(theirs)) wrong.push(`${symbol}\n  ours:     ${ours}\n  c++filt:  ${theirs}`);
  });
  console.log(`  demangle: ${compared} of ${mangled.length} C++ symbols of ${process.execPath} compared with c++filt`);
  assert.deepEqual(wrong.slice(0, 5), []);
  assert.ok(compared > mangled.length * 0.9, `only ${compared} of ${mangled.length} demangled`);
});

/** c++filt's output less what demangle() leaves out: parameters, template arguments, return type, qualifiers, clones. */
function simplify(full: string): string {
  let name = full.replaceAll('(anonymous namespace)', '\0').replace(/ \[clone [^\]]*\]/g, '').replace(/\[abi:[^\]]*\]/g, '');
  for (let previous = ''; previous !== name; ) {
    previous = name;
    name = name.replace(/<[^<>]*>/g, '').replace(/\([^()]*\)/g, '');
  }
  return name.replace(/( const| volatile| &&| &)+$/, '').split(' ').pop()!.replaceAll('\0', '(anonymous namespace)');
}

test('memo: bounded to two generations, keeping what is used', () => {
  const memo = new Memo<number, string>(4);
  memo.set(0, 'v0');
  for (let i = 1; i < 100; i++) {
    memo.set(i, `v${i}`);
    assert.equal(memo.get(0), 'v0', 'an entry read every time is never dropped');
    assert.ok(memo.size <= 8, `${memo.size} entries`);
  }
  assert.equal(memo.get(99), 'v99');
  assert.equal(memo.get(50), undefined, 'an entry not read for two generations is');
});

test('timing: 10,000 stacks of 30 frames with a warm memo', async () => {
  if (go === undefined) return skip('timing', 'no go toolchain');
  const child = await startGo(bins.pie, 60_000);
  const symbolizer = new Symbolizer();
  symbolizer.observe(child.pid!);
  const functions = [...goFunctions(bins.pie).values()].filter((f) => f.size > 16).slice(0, 600);
  const pcs = functions.map((f) => BigInt(runtimeAddress(child.pid!, bins.pie, f.address + 8)));
  child.kill('SIGKILL');
  const stacks = Array.from({ length: 10_000 }, (_, s) => Array.from({ length: 30 }, (_, i) => pcs[(s * 7 + i * 13) % pcs.length]!));
  for (const stack of stacks) symbolizer.resolve(child.pid!, stack, []);
  const started = performance.now();
  let frames = 0;
  for (const stack of stacks) frames += symbolizer.resolve(child.pid!, stack, []).length;
  const ms = performance.now() - started;
  assert.equal(frames, 300_000);
  console.log(`  resolve: 10,000 stacks of 30 frames in ${ms.toFixed(1)} ms with a warm memo (${((ms * 1000) / frames).toFixed(3)} µs a frame)`);
});

test.run();
