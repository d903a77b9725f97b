// Function names for addresses in one binary (an executable or a shared library). Go binaries
// are read through .gopclntab first: it gives file:line and survives `-ldflags=-s -w`; anything
// it does not cover (cgo's C code) and every other binary goes to the ELF function symbols
// (.symtab preferred, .dynsym too). Tables are built once per build and shared by every
// process that maps it, whatever path it has there.
import type { CachedBinary, SymbolCache } from '../../symbols/cache.js';
import { ET_EXEC, PT_INTERP, type ElfProgramHeader, type ElfSymbol } from '../../symbols/elf.js';
import type { GoPclntab } from '../../symbols/gopclntab.js';
import type { Frame } from '../model.js';
import { AddressTable, preferredAlias } from './address-table.js';
import { demangle } from './demangle.js';
import { Memo } from './memo.js';

// Section indexes from 0xff00 up are special (SHN_ABS, SHN_COMMON): no code there.
const SHN_LORESERVE = 0xff00;
const BIND_RANK = { global: 0, weak: 1, local: 2, other: 2 } as const;
/** Frames remembered per binary, per generation (see Memo): a worker's hot code is a few thousand addresses. */
const FRAMES_PER_GENERATION = 4096;

export class BinarySymbols {
  /** How frames name the binary: its file name, e.g. `libc.so.6`. */
  readonly module: string;
  /** ET_EXEC: loaded at the addresses the file states, so runtime addresses are file addresses. */
  readonly absolute: boolean;
  /**
   * Absolute and statically linked (no program interpreter): its processes' code is this file
   * at the addresses it states, plus the kernel's vdso; their maps add nothing to name a frame.
   */
  readonly selfContained: boolean;
  private readonly segments: readonly ElfProgramHeader[];
  private readonly pclntab: GoPclntab | undefined;
  private readonly functions: AddressTable<ElfSymbol>;
  private readonly frames = new Memo<number, Frame | null>(FRAMES_PER_GENERATION);

  /** Reads everything it needs now, while the file is surely there (a process's deleted binary may not be later). */
  constructor(binary: CachedBinary, module: string) {
    this.module = module;
    this.absolute = binary.elf.type === ET_EXEC;
    this.selfContained = this.absolute && !binary.elf.programHeaders.some((p) => p.type === PT_INTERP);
    this.segments = binary.elf.loadSegments;
    this.pclntab = binary.pclntab();
    const functions = binary.symbols().filter((s) => s.type === 'func' && s.value !== 0 && s.sectionIndex < SHN_LORESERVE);
    this.functions = new AddressTable(
      functions.map((s) => ({ start: s.value, size: s.size, value: s })),
      (a, b) => preferredAlias({ name: a.name, rank: BIND_RANK[a.bind] }, { name: b.name, rank: BIND_RANK[b.bind] }),
    );
  }

  /**
   * The file's virtual address of a runtime address in a mapping of this binary: the mapping's
   * start holds file offset `offset`, and the PT_LOAD segment holding that part of the file says
   * where the linker put it. Undefined outside every segment's file part.
   */
  fileAddress(address: number, mapping: { start: number; offset: number }): number | undefined {
    if (this.absolute) return address;
    const fileOffset = address - mapping.start + mapping.offset;
    const segment = this.segments.find((p) => fileOffset >= p.offset && fileOffset < p.offset + p.filesz);
    return segment === undefined ? undefined : segment.vaddr + (fileOffset - segment.offset);
  }

  /** Whether a virtual address is in one of the binary's PT_LOAD segments. */
  loads(vaddr: number): boolean {
    return this.segments.some((p) => vaddr >= p.vaddr && vaddr < p.vaddr + p.memsz);
  }

  /** The function holding a virtual address, or undefined when no symbol covers it. */
  frameAt(vaddr: number): Frame | undefined {
    let frame = this.frames.get(vaddr);
    if (frame === undefined) {
      frame = this.lookup(vaddr) ?? null;
      this.frames.set(vaddr, frame);
    }
    return frame ?? undefined;
  }

  /** True when Go's pcsp table says the function at vaddr has pushed nothing: its return address is at [SP]. */
  returnAddressAtSp(vaddr: number): boolean {
    return this.pclntab?.funcForPC(vaddr)?.spDelta === 0;
  }

  private lookup(vaddr: number): Frame | undefined {
    const go = this.pclntab?.funcForPC(vaddr);
    if (go !== undefined) {
      const frame: Frame = { name: go.name, module: this.module, kind: 'go' };
      if (go.file !== '') frame.file = go.file;
      if (go.line > 0) frame.line = go.line;
      return frame;
    }
    const symbol = this.functions.find(vaddr);
    return symbol === undefined ? undefined : { name: demangle(symbol.name), module: this.module, kind: 'native' };
  }
}

/** BinarySymbols per build: keyed by build ID when the binary has one, else by file version. */
export class BinarySymbolsCache {
  private readonly byContent: Memo<string, BinarySymbols>;

  constructor(
    private readonly files: SymbolCache,
    binariesPerGeneration = 16,
  ) {
    this.byContent = new Memo(binariesPerGeneration);
  }

  /** The symbols of the binary at `file` (which may be a /proc/PID/map_files link), named `module` in frames. */
  get(file: string, module: string): BinarySymbols {
    const binary = this.files.get(file);
    const key = binary.contentKey();
    let symbols = this.byContent.get(key);
    if (symbols === undefined) {
      symbols = new BinarySymbols(binary, module);
      this.byContent.set(key, symbols);
    }
    return symbols;
  }
}
