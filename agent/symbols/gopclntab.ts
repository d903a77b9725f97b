// Reads Go's function table (.gopclntab, the "pclntab") from an ELF executable.
//
// The pclntab is what the Go runtime itself uses for tracebacks, so it survives
// `go build -ldflags='-s -w'`, which removes .symtab and DWARF: it is the one source of function
// names and file:line for stripped Go binaries. Layout (Go 1.18+, src/runtime/symtab.go pcHeader
// and _func; src/debug/gosym/pclntab.go):
//
//   header: magic u32, 0, 0, minLC u8, ptrSize u8, then ptrSize words:
//           nfunc, nfiles, textStart, funcnameOffset, cuOffset, filetabOffset, pctabOffset, pclnOffset
//   functab (at pclnOffset): nfunc pairs of u32 {entryOff, funcOff}, then one u32 end offset
//   _func (at pclnOffset + funcOff): entryOff, nameOff, args, deferreturn, pcsp, pcfile, pcln,
//           npcdata, cuOffset (u32 each), [startLine u32, Go 1.20+], funcID u8, ...
//
// Entry offsets are relative to the start of the text (runtime.text).
import { BinaryFormatError, UnsupportedBinaryError } from './errors.js';
import { ElfFile, PF_X, PT_LOAD, SHF_WRITE, SHT_NOBITS, SHT_RELA, SHT_PROGBITS, cString, hex, u64 } from './elf.js';

const MAGIC_GO118 = 0xfffffff0;
const MAGIC_GO120 = 0xfffffff1;
const OLD_MAGICS: Record<number, string> = {
  0xfffffffb: 'Go 1.2 to 1.15',
  0xfffffffa: 'Go 1.16 to 1.17',
};
const R_X86_64_RELATIVE = 8;
const R_AARCH64_RELATIVE = 1027;
// Word index of `text` in runtime.moduledata (pcHeader, six slices, findfunctab, minpc, maxpc, text).
const MODULEDATA_TEXT_WORD = 22;

export interface GoFunction {
  name: string;
  /** Virtual address of the first instruction. */
  entry: number;
  /** Virtual address just past the function (the next function's entry). */
  end: number;
}

export interface GoSourceLocation {
  /** The function whose code holds the PC (for inlined code, the function it was inlined into). */
  name: string;
  entry: number;
  /** Source file of the PC ('' when the table has none). */
  file: string;
  /** Source line of the PC (0 when the table has none). */
  line: number;
  /**
   * Bytes the function has pushed onto the stack at this PC (its pcsp table). 0 means the
   * return address is still at [SP]: a frameless leaf, or a PC before the prologue.
   */
  spDelta: number;
}

/** Where the text start came from; the header field has been left zero since Go 1.26. */
export type TextStartSource = 'header' | 'runtime.text' | 'moduledata' | '.text';

export class GoPclntab {
  readonly path: string;
  /** '1.18' for the Go 1.18-1.19 layout, '1.20' for Go 1.20 and later. */
  readonly version: '1.18' | '1.20';
  readonly ptrSize: number;
  /** Instruction size quantum: PC deltas in the tables are multiplied by it. */
  readonly quantum: number;
  readonly textStart: number;
  readonly textStartSource: TextStartSource;
  readonly functionCount: number;
  private readonly data: Buffer;
  private readonly funcnametab: number;
  private readonly cutab: number;
  private readonly filetab: number;
  private readonly pctab: number;
  private readonly functab: number;
  private readonly names = new Map<number, string>();
  private functionList: GoFunction[] | undefined;
  private funcIds: number[] = [];
  private byName: Map<string, GoFunction> | undefined;

  private constructor(path: string, data: Buffer, header: PclntabHeader, textStart: number, textStartSource: TextStartSource) {
    this.path = path;
    this.data = data;
    this.version = header.version;
    this.ptrSize = header.ptrSize;
    this.quantum = header.quantum;
    this.functionCount = header.nfunc;
    this.funcnametab = header.funcnameOffset;
    this.cutab = header.cuOffset;
    this.filetab = header.filetabOffset;
    this.pctab = header.pctabOffset;
    this.functab = header.pclnOffset;
    this.textStart = textStart;
    this.textStartSource = textStartSource;
  }

  /** The pclntab of a Go executable, or undefined when the file has none (not Go, or pre-1.2 Go). */
  static fromElf(elf: ElfFile): GoPclntab | undefined {
    const located = locatePclntab(elf);
    if (located === undefined) return undefined;
    const header = parseHeader(elf.path, located.data);
    const { textStart, source } = findTextStart(elf, header, located.addr);
    return new GoPclntab(elf.path, located.data, header, textStart, source);
  }

  /** Every function, in address order. */
  functions(): readonly GoFunction[] {
    if (this.functionList !== undefined) return this.functionList;
    const list: GoFunction[] = [];
    const funcIds: number[] = [];
    // Go 1.20 inserted startLine before funcID.
    const funcIdOffset = this.version === '1.18' ? 36 : 40;
    this.guard(() => {
      for (let i = 0; i < this.functionCount; i++) {
        const func = this.functab + this.data.readUInt32LE(this.functab + (2 * i + 1) * 4);
        list.push({ name: this.nameAt(this.data.readInt32LE(func + 4)), entry: this.entryOf(i), end: this.entryOf(i + 1) });
        funcIds.push(this.data.readUInt8(func + funcIdOffset));
      }
    });
    this.functionList = list;
    this.funcIds = funcIds;
    return list;
  }

  /**
   * The function with exactly this name. A Go function called from assembly is listed twice under
   * one name: the function and its ABI0 wrapper (`name.abi0` in .symtab). The wrapper has funcID
   * FuncIDWrapper, always the last and so the largest funcID, so the entry with the smaller funcID
   * is the function itself, the one .symtab lists under the plain name. The ELF spelling of a name
   * (the linker writes "·" as "." in .symtab) finds the function too.
   */
  funcByName(name: string): GoFunction | undefined {
    if (this.byName === undefined) {
      const byName = new Map<string, { f: GoFunction; id: number }>();
      const list = this.functions();
      list.forEach((f, i) => {
        const id = this.funcIds[i] ?? 0;
        for (const key of f.name.includes('·') ? [f.name, f.name.replaceAll('·', '.')] : [f.name]) {
          const seen = byName.get(key);
          if (seen === undefined || id < seen.id) byName.set(key, { f, id });
        }
      });
      this.byName = new Map([...byName].map(([key, value]) => [key, value.f]));
    }
    return this.byName.get(name);
  }

  /** Function, file and line of a program counter, as `go tool addr2line` reports them. */
  funcForPC(pc: number): GoSourceLocation | undefined {
    if (this.functionCount === 0 || pc < this.entryOf(0) || pc >= this.entryOf(this.functionCount)) return undefined;
    return this.guard(() => {
      // Largest i with entry(i) <= pc.
      let lo = 0;
      let hi = this.functionCount - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (this.entryOf(mid) <= pc) lo = mid;
        else hi = mid - 1;
      }
      const func = this.functab + this.data.readUInt32LE(this.functab + (2 * lo + 1) * 4);
      const entry = this.textStart + this.data.readUInt32LE(func);
      const name = this.nameAt(this.data.readInt32LE(func + 4));
      const pcsp = this.data.readUInt32LE(func + 16);
      const pcfile = this.data.readUInt32LE(func + 20);
      const pcln = this.data.readUInt32LE(func + 24);
      const cuOffset = this.data.readUInt32LE(func + 32);
      let file = '';
      const fileIndex = pcfile === 0 ? -1 : this.pcvalue(pcfile, entry, pc);
      if (fileIndex >= 0 && cuOffset !== 0xffffffff) {
        const fileOffset = this.data.readUInt32LE(this.cutab + (cuOffset + fileIndex) * 4);
        if (fileOffset !== 0xffffffff) file = cString(this.data, this.filetab + fileOffset);
      }
      const line = pcln === 0 ? -1 : this.pcvalue(pcln, entry, pc);
      const spDelta = pcsp === 0 ? 0 : this.pcvalue(pcsp, entry, pc);
      return { name, entry, file, line: line < 0 ? 0 : line, spDelta: spDelta < 0 ? 0 : spDelta };
    });
  }

  private entryOf(i: number): number {
    return this.textStart + this.data.readUInt32LE(this.functab + 2 * i * 4);
  }

  private nameAt(offset: number): string {
    let name = this.names.get(offset);
    if (name === undefined) {
      if (offset < 0 || this.funcnametab + offset >= this.data.length) throw new RangeError(`function name offset ${offset} out of range`);
      name = cString(this.data, this.funcnametab + offset);
      this.names.set(offset, name);
    }
    return name;
  }

  /**
   * Runs a pc-value table (a sequence of zig-zag varint value deltas and PC deltas) up to the
   * target PC and returns the value in effect there, or -1.
   */
  private pcvalue(tableOffset: number, entry: number, target: number): number {
    const data = this.data;
    let p = this.pctab + tableOffset;
    let value = -1;
    let pc = entry;
    let first = true;
    for (;;) {
      let uv = 0;
      let shift = 0;
      for (;;) {
        const b = data[p++];
        if (b === undefined) throw new RangeError('pc-value table runs past the end of .gopclntab');
        uv += (b & 0x7f) * 2 ** shift;
        if ((b & 0x80) === 0) break;
        shift += 7;
        if (shift > 28) throw new RangeError('varint too long in pc-value table');
      }
      if (uv === 0 && !first) return -1;
      value += uv % 2 === 1 ? -Math.floor(uv / 2) - 1 : uv / 2;
      let pcDelta = 0;
      shift = 0;
      for (;;) {
        const b = data[p++];
        if (b === undefined) throw new RangeError('pc-value table runs past the end of .gopclntab');
        pcDelta += (b & 0x7f) * 2 ** shift;
        if ((b & 0x80) === 0) break;
        shift += 7;
        if (shift > 28) throw new RangeError('varint too long in pc-value table');
      }
      pc += pcDelta * this.quantum;
      if (target < pc) return value;
      first = pc === entry;
    }
  }

  private guard<T>(read: () => T): T {
    try {
      return read();
    } catch (error) {
      if (error instanceof RangeError) throw new BinaryFormatError(this.path, `malformed .gopclntab: ${error.message}`, { cause: error });
      throw error;
    }
  }
}

interface PclntabHeader {
  version: '1.18' | '1.20';
  quantum: number;
  ptrSize: number;
  nfunc: number;
  nfiles: number;
  textStart: number;
  funcnameOffset: number;
  cuOffset: number;
  filetabOffset: number;
  pctabOffset: number;
  pclnOffset: number;
}

function parseHeader(path: string, data: Buffer): PclntabHeader {
  if (data.length < 8) throw new BinaryFormatError(path, `.gopclntab is too short (${data.length} bytes)`);
  const magic = data.readUInt32LE(0);
  const old = OLD_MAGICS[magic];
  if (old !== undefined) {
    throw new UnsupportedBinaryError(path, `.gopclntab has magic ${hex(magic)} (${old}); only the Go 1.18+ layouts (0xfffffff0, 0xfffffff1) are supported`);
  }
  if (magic !== MAGIC_GO118 && magic !== MAGIC_GO120) {
    throw new UnsupportedBinaryError(path, `.gopclntab has unknown magic ${hex(magic)} (want 0xfffffff0 for Go 1.18-1.19 or 0xfffffff1 for Go 1.20+)`);
  }
  const quantum = data[6] ?? 0;
  const ptrSize = data[7] ?? 0;
  if (data[4] !== 0 || data[5] !== 0 || ![1, 2, 4].includes(quantum) || (ptrSize !== 4 && ptrSize !== 8)) {
    throw new BinaryFormatError(path, `bad .gopclntab header (pad ${data[4]} ${data[5]}, quantum ${quantum}, pointer size ${ptrSize})`);
  }
  const headerSize = 8 + 8 * ptrSize;
  if (data.length < headerSize) throw new BinaryFormatError(path, `.gopclntab is too short for its header (${data.length} bytes)`);
  const word = (i: number): number => (ptrSize === 8 ? u64(data, 8 + i * 8) : data.readUInt32LE(8 + i * 4));
  const header: PclntabHeader = {
    version: magic === MAGIC_GO118 ? '1.18' : '1.20',
    quantum,
    ptrSize,
    nfunc: word(0),
    nfiles: word(1),
    textStart: word(2),
    funcnameOffset: word(3),
    cuOffset: word(4),
    filetabOffset: word(5),
    pctabOffset: word(6),
    pclnOffset: word(7),
  };
  for (const field of ['funcnameOffset', 'cuOffset', 'filetabOffset', 'pctabOffset', 'pclnOffset'] as const) {
    if (header[field] < headerSize || header[field] > data.length) {
      throw new BinaryFormatError(path, `bad .gopclntab header: ${field} ${hex(header[field])} outside the table (${data.length} bytes)`);
    }
  }
  if (header.pclnOffset + (2 * header.nfunc + 1) * 4 > data.length) {
    throw new BinaryFormatError(path, `bad .gopclntab header: ${header.nfunc} functions do not fit in the table (${data.length} bytes): truncated?`);
  }
  return header;
}

function locatePclntab(elf: ElfFile): { data: Buffer; addr: number } | undefined {
  // Internally linked binaries have .gopclntab; externally linked PIE puts it in .data.rel.ro.gopclntab.
  for (const name of ['.gopclntab', '.data.rel.ro.gopclntab']) {
    const section = elf.sectionHeader(name);
    if (section !== undefined && section.type !== SHT_NOBITS) return { data: elf.sectionData(section), addr: section.addr };
  }
  // Some linkers merge it into another section; the runtime symbols still bound it.
  const symbols = elf.symbols();
  const start = symbols.find((s) => s.name === 'runtime.pclntab');
  const end = symbols.find((s) => s.name === 'runtime.epclntab');
  if (start !== undefined && end !== undefined && end.value > start.value) {
    return { data: elf.readAt(elf.vaddrToOffset(start.value), end.value - start.value, 'runtime.pclntab'), addr: start.value };
  }
  return undefined;
}

/**
 * The address function entry offsets are relative to. Go 1.18-1.25 stores it in the header
 * (relocated, so possibly zero on disk for PIE); Go 1.26 leaves that field zero. Then, in order:
 * the runtime.text symbol; the `text` field of runtime.moduledata, found in stripped binaries as
 * the data word that points at the pclntab; the .text section, which is what `go tool addr2line`
 * falls back to and is right for binaries the Go linker laid out itself.
 */
function findTextStart(elf: ElfFile, header: PclntabHeader, pclntabAddr: number): { textStart: number; source: TextStartSource } {
  const executable = (addr: number): boolean => elf.programHeaders.some((p) => p.type === PT_LOAD && (p.flags & PF_X) !== 0 && addr >= p.vaddr && addr < p.vaddr + p.memsz);
  if (header.textStart !== 0 && executable(header.textStart)) return { textStart: header.textStart, source: 'header' };
  const symbol = elf.hasSymtab() ? elf.symbols().find((s) => s.name === 'runtime.text') : undefined;
  if (symbol !== undefined && executable(symbol.value)) return { textStart: symbol.value, source: 'runtime.text' };
  const fromModuledata = moduledataText(elf, header, pclntabAddr);
  if (fromModuledata !== undefined && executable(fromModuledata)) return { textStart: fromModuledata, source: 'moduledata' };
  const text = elf.sectionHeader('.text');
  if (text !== undefined) return { textStart: text.addr, source: '.text' };
  throw new BinaryFormatError(elf.path, 'cannot find the start of Go text: no runtime.text symbol, no runtime.moduledata and no .text section');
}

function moduledataText(elf: ElfFile, header: PclntabHeader, pclntabAddr: number): number | undefined {
  const ptr = header.ptrSize;
  if (ptr !== 8) return undefined;
  let relocations: Map<number, number> | undefined;
  // Go 1.26 gives moduledata its own section; earlier versions put it in .noptrdata.
  const preferred = elf.sections.filter((s) => s.name === '.go.module');
  const others = elf.sections.filter((s) => s.name !== '.go.module' && s.type === SHT_PROGBITS && (s.flags & SHF_WRITE) !== 0);
  for (const section of [...preferred, ...others]) {
    const data = elf.sectionData(section);
    const wordAt = (offset: number): number => {
      const value = u64(data, offset);
      if (value !== 0) return value;
      relocations ??= relativeRelocations(elf);
      return relocations.get(section.addr + offset) ?? 0;
    };
    for (let offset = 0; offset + (MODULEDATA_TEXT_WORD + 1) * ptr <= data.length; offset += ptr) {
      // moduledata starts with pcHeader, then the funcnametab slice: both point into the pclntab.
      if (wordAt(offset) !== pclntabAddr) continue;
      if (wordAt(offset + ptr) !== pclntabAddr + header.funcnameOffset) continue;
      return wordAt(offset + MODULEDATA_TEXT_WORD * ptr);
    }
  }
  return undefined;
}

/** Targets of RELATIVE relocations by address: in PIE built by an external linker, pointers are zero on disk. */
function relativeRelocations(elf: ElfFile): Map<number, number> {
  const map = new Map<number, number>();
  for (const section of elf.sections) {
    if (section.type !== SHT_RELA || section.entsize !== 24) continue;
    const data = elf.sectionData(section);
    for (let at = 0; at + 24 <= data.length; at += 24) {
      const type = data.readUInt32LE(at + 8);
      if (type !== R_X86_64_RELATIVE && type !== R_AARCH64_RELATIVE) continue;
      map.set(u64(data, at), Number(data.readBigInt64LE(at + 16)));
    }
  }
  return map;
}
