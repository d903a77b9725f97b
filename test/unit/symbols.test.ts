// The symbol readers against real binaries: go-lookup built normally and stripped by the
// machine's go, /usr/bin/node, and a small C program; answers are checked against go tool nm,
// go tool addr2line, go version -m, nm and readelf.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import { SymbolCache } from '../../agent/symbols/cache.js';
import { ElfFile } from '../../agent/symbols/elf.js';
import { BinaryChangedError, BinaryFormatError, UnsupportedBinaryError } from '../../agent/symbols/errors.js';
import { readGoBuildInfo } from '../../agent/symbols/gobuildinfo.js';
import { pastGoStackCheck } from '../../agent/symbols/go-prologue.js';
import { GoPclntab } from '../../agent/symbols/gopclntab.js';
import {
  findByPrefix,
  findCppFunction,
  GO_ENTRY_POINTS,
  goProbeOffset,
  itaniumPattern,
  resolveFunction,
  resolveGoEntryPoints,
  type GoEntryPoint,
} from '../../agent/symbols/resolve.js';
import { findGo } from '../../runtime/build/go.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const GO_LOOKUP = path.join(ROOT, 'examples/go-lookup');
const NODE = '/usr/bin/node';
// test/run.ts counts a test that prints a line starting with this as skipped, not passed.
const SKIP = 'HEARTH-SKIP';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-symbols-'));
const go = findGo();
const bins = { normal: path.join(tmp, 'go-lookup'), stripped: path.join(tmp, 'go-lookup-stripped'), c: path.join(tmp, 'ctarget') };
let goBuilt = false;
let cBuilt = false;

function run(command: string, args: string[], options: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv } = {}): string {
  return execFileSync(command, args, { ...options, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, stdio: ['pipe', 'pipe', 'pipe'] });
}

function have(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function skip(reason: string): void {
  console.log(`${SKIP} ${reason}`);
}

/** File offset of a virtual address by the arithmetic on `readelf -lW` LOAD lines. */
function readelfOffset(file: string, vaddr: number): number {
  for (const line of run('readelf', ['-lW', file]).split('\n')) {
    const m = /^\s*LOAD\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)/.exec(line);
    if (m === null) continue;
    const [offset, segVaddr, filesz] = [parseInt(m[1]!, 16), parseInt(m[2]!, 16), parseInt(m[3]!, 16)];
    if (vaddr >= segVaddr && vaddr < segVaddr + filesz) return vaddr - segVaddr + offset;
  }
  throw new Error(`readelf: 0x${vaddr.toString(16)} is not in a LOAD segment of ${file}`);
}

function goToolNm(file: string): Map<string, number> {
  const symbols = new Map<string, number>();
  for (const line of run(go!, ['tool', 'nm', file]).split('\n')) {
    const m = /^\s*([0-9a-f]+)\s+(\S)\s+(.+)$/.exec(line);
    if (m !== null && !symbols.has(m[3]!)) symbols.set(m[3]!, parseInt(m[1]!, 16));
  }
  return symbols;
}

function expectError(fn: () => unknown, type: new (...args: never[]) => Error, pattern: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof type, `expected ${type.name}, got ${String(error)}`);
    assert.match(error.message, pattern);
    return true;
  });
}

test.before(() => {
  if (go !== undefined) {
    const env = { ...process.env, CGO_ENABLED: '0' };
    run(go, ['build', '-o', bins.normal, '.'], { cwd: GO_LOOKUP, env });
    run(go, ['build', '-ldflags=-s -w', '-o', bins.stripped, '.'], { cwd: GO_LOOKUP, env });
    goBuilt = true;
  }
  if (have('gcc')) {
    const source = path.join(tmp, 'ctarget.c');
    fs.writeFileSync(
      source,
      [
        '#include <stdio.h>',
        'int hearth_probe_target(int x) { return x * 3 + 1; }',
        'int main(int argc, char **argv) { (void)argv; printf("%d\\n", hearth_probe_target(argc)); return 0; }',
        '',
      ].join('\n'),
    );
    run('gcc', ['-O0', '-g0', '-rdynamic', '-o', bins.c, source]);
    cBuilt = true;
  }
});

test.after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('resolveGoEntryPoints: normal build from .symtab matches go tool nm and readelf', () => {
  if (!goBuilt) return skip('no go toolchain');
  const nm = goToolNm(bins.normal);
  const found = resolveGoEntryPoints(bins.normal);
  for (const role of Object.keys(GO_ENTRY_POINTS) as GoEntryPoint[]) {
    const f = found[role];
    assert.ok(f !== undefined, `${role} not found`);
    assert.equal(f.source, 'symtab', role);
    assert.equal(f.vaddr, nm.get(f.name), `${f.name}: vaddr differs from go tool nm`);
    assert.equal(f.fileOffset, readelfOffset(bins.normal, f.vaddr), `${f.name}: file offset differs from readelf arithmetic`);
  }
  assert.match(found.doInit!.name, /^runtime\.doInit1?$/);
  assert.equal(found.markReady!.name, 'hearth.local/sdk.markReady');
});

test('resolveGoEntryPoints: stripped build falls back to .gopclntab at the same addresses', () => {
  if (!goBuilt) return skip('no go toolchain');
  const elf = ElfFile.open(bins.stripped);
  assert.equal(elf.hasSymtab(), false, '-s -w should remove .symtab');
  assert.throws(() => run(go!, ['tool', 'nm', bins.stripped]), 'go tool nm should find no symbols');
  const normal = resolveGoEntryPoints(bins.normal);
  const stripped = resolveGoEntryPoints(bins.stripped);
  for (const role of Object.keys(GO_ENTRY_POINTS) as GoEntryPoint[]) {
    const s = stripped[role];
    const n = normal[role];
    assert.ok(s !== undefined && n !== undefined, `${role} not found`);
    assert.equal(s.source, 'gopclntab', role);
    assert.equal(s.name, n.name);
    assert.equal(s.vaddr, n.vaddr, `${s.name}: stripped vaddr differs from the normal build's symbol`);
    assert.equal(s.fileOffset, n.fileOffset, `${s.name}: stripped file offset differs`);
  }
  assert.equal(resolveFunction(bins.stripped, 'main.no_such_function'), undefined);
});

test('pastGoStackCheck: the push after each form of the check; 0 for anything else', () => {
  const bytes = (hex: string): Buffer => Buffer.from(hex.replace(/ /g, ''), 'hex');
  assert.equal(pastGoStackCheck(bytes('493b6610 7625 55 4889e5')), 6, 'cmp rsp; jbe rel8');
  assert.equal(pastGoStackCheck(bytes('4c8d6424f0 4d3b6610 0f860d040000 55')), 15, 'lea disp8; cmp r12; jbe rel32');
  assert.equal(pastGoStackCheck(bytes('4c8da42468ffffff 4d3b6610 0f8696040000 55')), 18, 'lea disp32; cmp r12; jbe rel32');
  assert.equal(pastGoStackCheck(bytes('4831d8 488d0de6cb1500')), 0, 'a frameless function');
  assert.equal(pastGoStackCheck(bytes('493b6610 7625 4883ec08')), 0, 'no push after the check');
  assert.equal(pastGoStackCheck(bytes('493b6610 74')), 0, 'not a jbe');
  assert.equal(pastGoStackCheck(bytes('493b66')), 0, 'too short');
});

test('goProbeOffset: on PUSHQ BP past the stack check where go tool objdump shows one', () => {
  if (!goBuilt) return skip('no go toolchain');
  const found = resolveGoEntryPoints(bins.normal);
  for (const role of ['runtimeMain', 'mainMain', 'markStateMapped'] as const) {
    const fn = found[role]!;
    const listing = run(go!, ['tool', 'objdump', '-s', `^${fn.name.replace(/\./g, '\\.')}$`, bins.normal]).split('\n').slice(1, 5);
    const instructions = listing.map((line) => line.trim().split(/\t+/)).map((cols) => ({ vaddr: Number(cols[1]), text: cols[3] ?? '' }));
    const offset = goProbeOffset(bins.normal, fn);
    const checked = instructions.findIndex((insn) => insn.text.startsWith('JBE')) >= 0;
    const push = instructions.find((insn) => insn.text.startsWith('PUSHQ BP'));
    if (checked && push !== undefined) assert.equal(offset, fn.fileOffset + (push.vaddr - fn.vaddr), `${fn.name}: ${JSON.stringify(instructions)}`);
    else assert.equal(offset, fn.fileOffset, `${fn.name} has no stack check: probed at its entry`);
  }
  assert.notEqual(goProbeOffset(bins.normal, found.runtimeMain!), found.runtimeMain!.fileOffset, 'runtime.main has a stack check');
});

test('gopclntab: functions match the symbol table; parse timing', () => {
  if (!goBuilt) return skip('no go toolchain');
  for (const file of [bins.normal, bins.stripped]) {
    const elf = ElfFile.open(file);
    const started = performance.now();
    const table = GoPclntab.fromElf(elf)!;
    const functions = table.functions();
    const ms = performance.now() - started;
    console.log(`  gopclntab parse of ${path.basename(file)}: ${functions.length} functions in ${ms.toFixed(1)} ms (text start from ${table.textStartSource})`);
    assert.equal(table.version, '1.20');
    assert.ok(functions.length > 1000);
    for (let i = 1; i < functions.length; i++) assert.ok(functions[i]!.entry >= functions[i - 1]!.end, 'functions are in address order');
  }
  // Every table entry is a symbol at the same address: under its own name (with "·" written as
  // "."), or with the .abi0 suffix .symtab gives assembly functions and ABI wrappers.
  const nm = new Set<string>();
  for (const line of run(go!, ['tool', 'nm', bins.normal]).split('\n')) {
    const m = /^\s*([0-9a-f]+)\s+\S\s+(.+)$/.exec(line);
    if (m !== null) nm.add(`${m[2]}@${parseInt(m[1]!, 16)}`);
  }
  const table = GoPclntab.fromElf(ElfFile.open(bins.normal))!;
  const missing = table.functions().filter((f) => {
    const elfName = f.name.replaceAll('·', '.');
    return !nm.has(`${elfName}@${f.entry}`) && !nm.has(`${elfName}.abi0@${f.entry}`);
  });
  assert.deepEqual(missing.slice(0, 10).map((f) => f.name), []);
  // A name listed twice (function and ABI0 wrapper) resolves to the function, as .symtab does.
  const symbols = goToolNm(bins.normal);
  for (const name of ['internal/bytealg.countGeneric', 'runtime.reflectcallmove', 'main.main', 'type:.eq.runtime.untracedG.7']) {
    assert.equal(table.funcByName(name)?.entry, symbols.get(name), name);
  }
});

test('gopclntab: funcForPC agrees with go tool addr2line', () => {
  if (!goBuilt) return skip('no go toolchain');
  for (const file of [bins.normal, bins.stripped]) {
    const table = GoPclntab.fromElf(ElfFile.open(file))!;
    const picked = table.functions().filter((f) => f.name.startsWith('main.') || f.name.startsWith('hearth.local/sdk.') || f.name === 'runtime.main');
    assert.ok(picked.length >= 8);
    const pcs = picked.flatMap((f) => [f.entry, f.entry + Math.floor((f.end - f.entry) / 3), f.entry + Math.floor((f.end - f.entry) / 2)]);
    const lines = run(go!, ['tool', 'addr2line', file], { input: pcs.map((pc) => `0x${pc.toString(16)}\n`).join('') }).trim().split('\n');
    assert.equal(lines.length, pcs.length * 2);
    let withLine = 0;
    pcs.forEach((pc, i) => {
      const got = table.funcForPC(pc);
      assert.ok(got !== undefined, `no function for 0x${pc.toString(16)}`);
      const want = { name: lines[2 * i]!, where: lines[2 * i + 1]! };
      const where = got.file === '' && got.line === 0 ? ':-1' : `${got.file}:${got.line}`;
      assert.deepEqual({ name: got.name, where }, want, `0x${pc.toString(16)} in ${path.basename(file)}`);
      if (got.line > 0) withLine++;
    });
    assert.ok(withLine > pcs.length / 2);
    const main = table.funcByName('main.main')!;
    assert.equal(table.funcForPC(main.entry)!.file, path.join(GO_LOOKUP, 'main.go'));
    assert.equal(table.funcForPC(0x10), undefined, 'a PC below the text has no function');
  }
});

test('gopclntab: Go 1.18-1.19 magic parses the same layout; older magics are refused by name', () => {
  if (!goBuilt) return skip('no go toolchain');
  const elf = ElfFile.open(bins.stripped);
  const section = elf.sectionHeader('.gopclntab')!;
  const bytes = fs.readFileSync(bins.stripped);
  const patched = (magic: number, name: string): string => {
    const copy = Buffer.from(bytes);
    copy.writeUInt32LE(magic, section.offset);
    const file = path.join(tmp, name);
    fs.writeFileSync(file, copy);
    return file;
  };
  const go118 = GoPclntab.fromElf(ElfFile.open(patched(0xfffffff0, 'magic118')))!;
  const current = GoPclntab.fromElf(elf)!;
  assert.equal(go118.version, '1.18');
  assert.deepEqual(go118.functions().slice(0, 50), current.functions().slice(0, 50));
  const go116 = patched(0xfffffffa, 'magic116');
  expectError(() => GoPclntab.fromElf(ElfFile.open(go116)), UnsupportedBinaryError, /magic116: .gopclntab has magic 0xfffffffa \(Go 1\.16 to 1\.17\)/);
  const junk = patched(0x12345678, 'magicjunk');
  expectError(() => GoPclntab.fromElf(ElfFile.open(junk)), UnsupportedBinaryError, /magicjunk: .gopclntab has unknown magic 0x12345678/);
});

test('readGoBuildInfo matches go version -m', () => {
  if (!goBuilt) return skip('no go toolchain');
  for (const file of [bins.normal, bins.stripped]) {
    const info = readGoBuildInfo(ElfFile.open(file));
    assert.ok(info !== undefined);
    const printed = run(go!, ['version', '-m', file]).split('\n');
    assert.equal(`${file}: ${info.goVersion}`, printed[0]);
    assert.equal(info.goVersion, run(go!, ['env', 'GOVERSION']).trim());
    assert.ok(printed.includes(`\tpath\t${info.path}`));
    assert.equal(info.path, 'hearth.local/examples/go-lookup');
    assert.equal(info.mainModule?.path, 'hearth.local/examples/go-lookup');
    const dep = info.deps.find((d) => d.path === 'hearth.local/sdk');
    assert.equal(dep?.replace?.path, '../../runtime/sdk/go');
    const printedKeys = printed.filter((l) => l.startsWith('\tbuild\t')).map((l) => l.slice('\tbuild\t'.length).split('=')[0]);
    assert.deepEqual(Object.keys(info.settings), printedKeys);
    assert.equal(info.settings['CGO_ENABLED'], '0');
    assert.equal(info.settings['GOOS'], 'linux');
  }
  assert.equal(readGoBuildInfo(ElfFile.open(bins.stripped))!.settings['-ldflags'], '-s -w', 'quoted values are unquoted');
  if (cBuilt) assert.equal(readGoBuildInfo(ElfFile.open(bins.c)), undefined, 'a C binary has no Go build info');
});

test('gopclntab: externally linked PIE, where runtime.text is not the start of .text', () => {
  if (!goBuilt || !have('gcc')) return skip('needs go and gcc');
  const full = path.join(tmp, 'go-lookup-extpie');
  const stripped = path.join(tmp, 'go-lookup-extpie-stripped');
  const env = { ...process.env, CGO_ENABLED: '1' };
  try {
    run(go!, ['build', '-buildmode=pie', '-ldflags=-linkmode=external', '-o', full, '.'], { cwd: GO_LOOKUP, env });
    run(go!, ['build', '-buildmode=pie', '-ldflags=-s -w -linkmode=external', '-o', stripped, '.'], { cwd: GO_LOOKUP, env });
  } catch (error) {
    return skip(`external linking failed: ${String(error).split('\n')[0]}`);
  }
  const runtimeText = goToolNm(full).get('runtime.text')!;
  const table = GoPclntab.fromElf(ElfFile.open(stripped))!;
  assert.equal(table.textStartSource, 'moduledata');
  assert.equal(table.textStart, runtimeText);
  const normal = resolveGoEntryPoints(full);
  const fromTable = resolveGoEntryPoints(stripped);
  assert.equal(fromTable.mainMain?.vaddr, normal.mainMain?.vaddr);
  assert.equal(fromTable.markInvokeEnd?.fileOffset, normal.markInvokeEnd?.fileOffset);
});

test('ElfFile on /usr/bin/node: build ID, symbols() timing, C++ overloads, vaddrToOffset', () => {
  if (!fs.existsSync(NODE) || !have('readelf')) return skip(`needs ${NODE} and readelf`);
  const elf = ElfFile.open(NODE);
  const readelfId = /Build ID:\s*([0-9a-f]+)/.exec(run('readelf', ['-n', NODE]))?.[1];
  assert.equal(elf.buildId(), readelfId);
  if (have('file')) assert.ok(run('file', ['-L', NODE]).includes(`BuildID[sha1]=${elf.buildId()}`));

  const started = performance.now();
  const symbols = elf.symbols();
  console.log(`  symbols() on ${NODE} (${(elf.identity.size / 1e6).toFixed(0)} MB): ${symbols.length} symbols in ${(performance.now() - started).toFixed(0)} ms`);
  assert.ok(symbols.some((s) => s.source === 'symtab'));
  assert.equal(new Set(symbols.map((s) => `${s.value}\0${s.name}`)).size, symbols.length, 'no duplicates across .symtab and .dynsym');

  const load = findCppFunction(NODE, 'node::LoadEnvironment');
  assert.equal(load.length, 2, load.map((f) => f.name).join(', '));
  for (const f of load) assert.ok(f.name.startsWith('_ZN4node15LoadEnvironmentE'));
  if (have('nm')) {
    const nmNames = run('nm', ['--defined-only', NODE]).split('\n').filter((l) => / [tT] _ZN4node15LoadEnvironmentE\S*$/.test(l));
    assert.deepEqual(load.map((f) => f.name).sort(), nmNames.map((l) => l.split(' ')[2]).sort());
  }
  const start = findCppFunction(NODE, 'node::Start');
  const startIntCharPP = start.find((f) => f.name === '_ZN4node5StartEiPPc');
  assert.ok(startIntCharPP !== undefined, 'node::Start(int, char**)');
  assert.equal(startIntCharPP.fileOffset, readelfOffset(NODE, startIntCharPP.vaddr));
  assert.equal(resolveFunction(NODE, '_ZN4node5StartEiPPc')?.vaddr, startIntCharPP.vaddr);
  const realm = findByPrefix(NODE, '_ZN4node5Realm');
  assert.ok(realm.some((f) => f.name === '_ZN4node5Realm16RunBootstrappingEv'));
  assert.ok(realm.every((f) => f.name.startsWith('_ZN4node5Realm') && f.source !== 'gopclntab'));

  expectError(() => elf.vaddrToOffset(0x10), BinaryFormatError, /usr\/bin\/node: address 0x10 is not mapped by any PT_LOAD segment/);
});

test('itaniumPattern: nested, const, template, constructor, destructor and global names', () => {
  const p = itaniumPattern('node::LoadEnvironment');
  assert.ok(p.test('_ZN4node15LoadEnvironmentEPNS_11EnvironmentE'));
  assert.ok(!p.test('_ZN4node16LoadEnvironmentXEv'), 'a longer name with the same start');
  assert.ok(!p.test('_ZN4node15LoadEnvironment5InnerEv'), 'a member of a class named like the function');
  assert.ok(itaniumPattern('node::Realm::RunBootstrapping').test('_ZN4node5Realm16RunBootstrappingEv'));
  assert.ok(itaniumPattern('v8::Isolate::GetCurrentContext').test('_ZN2v87Isolate17GetCurrentContextEv'));
  assert.ok(itaniumPattern('a::b::get').test('_ZNK1a1b3getEv'));
  assert.ok(itaniumPattern('a::f').test('_ZN1a1fIiEEvT_'));
  assert.ok(itaniumPattern('a::f').test('_ZN1a1fB5cxx11Ev'));
  assert.ok(itaniumPattern('a::C::C').test('_ZN1a1CC2Ei'));
  assert.ok(itaniumPattern('a::C::~C').test('_ZN1a1CD1Ev'));
  assert.ok(itaniumPattern('main').test('_Z4mainiPPc'));
  assert.ok(itaniumPattern('std::terminate').test('_ZSt9terminatev'));
  assert.throws(() => itaniumPattern('node::operator+'), /cannot build a mangled name for "node::operator\+"/);
});

test('C binary: symbols() has the function at the address nm prints; .dynsym after strip', () => {
  if (!cBuilt || !have('nm') || !have('strip')) return skip('needs gcc, nm and strip');
  const nmLine = run('nm', [bins.c]).split('\n').find((l) => l.endsWith(' hearth_probe_target'));
  assert.ok(nmLine !== undefined);
  const nmValue = parseInt(nmLine.split(' ')[0]!, 16);
  const symbol = ElfFile.open(bins.c).symbols().find((s) => s.name === 'hearth_probe_target');
  assert.ok(symbol !== undefined);
  assert.equal(symbol.value, nmValue);
  assert.equal(symbol.type, 'func');
  assert.equal(symbol.bind, 'global');
  assert.equal(symbol.source, 'symtab');
  const resolved = resolveFunction(bins.c, 'hearth_probe_target')!;
  assert.equal(resolved.fileOffset, readelfOffset(bins.c, nmValue));

  const stripped = path.join(tmp, 'ctarget-stripped');
  run('strip', ['-o', stripped, bins.c]);
  const fromDynsym = resolveFunction(stripped, 'hearth_probe_target');
  assert.equal(fromDynsym?.source, 'dynsym', '-rdynamic exports it in .dynsym, which strip keeps');
  assert.equal(fromDynsym?.vaddr, nmValue);
  assert.equal(GoPclntab.fromElf(ElfFile.open(stripped)), undefined);
});

test('errors name the file and the problem', () => {
  const text = path.join(tmp, 'notes.txt');
  fs.writeFileSync(text, 'just some text, not a program\n');
  expectError(() => ElfFile.open(text), BinaryFormatError, new RegExp(`^${text}: not an ELF file \\(bad magic\\)$`));

  const empty = path.join(tmp, 'empty');
  fs.writeFileSync(empty, '');
  expectError(() => ElfFile.open(empty), BinaryFormatError, /empty: not an ELF file \(the file is empty\)/);

  const header = (elfClass: number, data: number): Buffer => {
    const b = Buffer.alloc(64);
    b.write('\x7fELF', 0, 'latin1');
    b[4] = elfClass;
    b[5] = data;
    b[6] = 1;
    return b;
  };
  const elf32 = path.join(tmp, 'elf32');
  fs.writeFileSync(elf32, header(1, 1));
  expectError(() => ElfFile.open(elf32), UnsupportedBinaryError, /elf32: 32-bit ELF \(ELFCLASS32\) is not supported/);
  const bigEndian = path.join(tmp, 'elf64be');
  fs.writeFileSync(bigEndian, header(2, 2));
  expectError(() => ElfFile.open(bigEndian), UnsupportedBinaryError, /elf64be: big-endian ELF \(ELFDATA2MSB\) is not supported/);

  const shortHeader = path.join(tmp, 'short-header');
  fs.writeFileSync(shortHeader, header(2, 1).subarray(0, 40));
  expectError(() => ElfFile.open(shortHeader), BinaryFormatError, /short-header: truncated ELF header \(40 bytes, need 64\)/);

  if (cBuilt) {
    const truncated = path.join(tmp, 'truncated');
    fs.writeFileSync(truncated, fs.readFileSync(bins.c).subarray(0, 4096));
    expectError(() => ElfFile.open(truncated), BinaryFormatError, /truncated: section header table \(\d+ bytes at offset 0x[0-9a-f]+\) extends past the end of the file \(4096 bytes\): truncated\?/);
  }

  if (have('gcc') && have('strip')) {
    // No .symtab, no .dynsym and no .gopclntab: nothing to resolve names from.
    const source = path.join(tmp, 'bare.c');
    const bare = path.join(tmp, 'bare');
    fs.writeFileSync(source, 'void _start(void) { for (;;) {} }\n');
    run('gcc', ['-nostdlib', '-static', '-o', bare, source]);
    run('strip', [bare]);
    expectError(() => resolveGoEntryPoints(bare), BinaryFormatError, new RegExp(`^${bare}: no .gopclntab section and no symbol table$`));
    expectError(() => resolveFunction(bare, 'main'), BinaryFormatError, /no .gopclntab section and no symbol table/);
  }
  expectError(() => resolveFunction(text, 'main'), BinaryFormatError, /notes.txt: not an ELF file/);
});

test('SymbolCache parses a binary once and notices when it is replaced', () => {
  if (!cBuilt) return skip('needs gcc');
  const file = path.join(tmp, 'cached');
  fs.copyFileSync(bins.c, file);
  const cache = new SymbolCache(2);
  const first = cache.get(file);
  assert.equal(cache.get(file), first);
  assert.equal(cache.hits, 1);
  assert.equal(first.symbols(), cache.get(file).symbols(), 'symbols are parsed once');

  // Same path, new content and mtime: a new entry, and the old ElfFile refuses to read the new bytes.
  const copy = fs.readFileSync(bins.c);
  copy[copy.length - 1] = copy[copy.length - 1]! ^ 0xff;
  fs.writeFileSync(file, copy);
  fs.utimesSync(file, new Date(), new Date(Date.now() + 5000));
  const second = cache.get(file);
  assert.notEqual(second, first);
  const stale = ElfFile.open(bins.c);
  fs.utimesSync(bins.c, new Date(), new Date(Date.now() + 10_000));
  expectError(() => stale.section('.text'), BinaryChangedError, /ctarget: changed on disk while it was being read/);

  const other = path.join(tmp, 'cached-other');
  fs.copyFileSync(bins.c, other);
  cache.get(bins.c);
  cache.get(other);
  assert.equal(cache.size, 2, 'least recently used entries are evicted');
});

test.run();
