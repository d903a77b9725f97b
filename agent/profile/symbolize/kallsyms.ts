// Kernel symbols from /proc/kallsyms for the kernel part of sampled stacks. Lines are
// `ADDRESS TYPE NAME` with `\t[MODULE]` appended for symbols of loaded modules (and BPF
// programs, as `[bpf]`). Only text symbols name code. With kptr_restrict in force the kernel
// shows every address as zero: nothing can be resolved, and every frame is [unknown].
import fs from 'node:fs';
import type { Frame } from '../model.js';
import { AddressTable, preferredAlias, type AddressRange } from './address-table.js';
import { Memo } from './memo.js';
import { matchLines } from './text-lines.js';

export const DEFAULT_KALLSYMS_PATH = '/proc/kallsyms';

/** Kernel addresses live in the top half; stored relative to this they are exact as numbers. */
const KERNEL_HALF = 0xffff_0000_0000_0000n;
const TEXT_TYPES = new Set(['t', 'T', 'w', 'W']);
const KERNEL_MODULE = '[kernel]';
/** The frame for a kernel address no symbol holds, and for every kernel address when kallsyms cannot be read. */
export const UNKNOWN_KERNEL_FRAME: Frame = { name: '[unknown]', module: KERNEL_MODULE, kind: 'unknown' };
const LINE = /^([0-9a-f]+) (\S) (\S+)(?:\t\[(\S+)\])?$/;

/** Kernel frames remembered, per generation (see Memo): the hot kernel paths of sampled stacks. */
const FRAMES_PER_GENERATION = 2048;

/**
 * The text symbols, held compactly: a host has over 100,000, and an object per symbol kept
 * tens of megabytes in the agent for as long as it runs. Names are packed in one latin1
 * buffer; a frame is made when an address is first resolved to it.
 */
export class KernelSymbols {
  private readonly frames = new Memo<number, Frame>(FRAMES_PER_GENERATION);

  private constructor(
    /** Symbol index of each address range. */
    private readonly table: AddressTable<number>,
    private readonly names: Buffer,
    /** Symbol i's name is names[nameStarts[i], nameStarts[i + 1]). */
    private readonly nameStarts: Uint32Array,
    /** Index into `modules`. */
    private readonly moduleOf: Uint32Array,
    private readonly modules: readonly string[],
    /** Every address read as zero (kptr_restrict): nothing resolves. */
    readonly restricted: boolean,
  ) {}

  /** Parses the whole file; throws SymbolSourceFormatError on a line it cannot read. */
  static load(path: string = DEFAULT_KALLSYMS_PATH): KernelSymbols {
    return KernelSymbols.parse(path, fs.readFileSync(path, 'latin1'));
  }

  static parse(path: string, text: string): KernelSymbols {
    const ranges: AddressRange<number>[] = [];
    const names: string[] = [];
    const ranks: number[] = [];
    const moduleOf: number[] = [];
    const moduleIndex = new Map<string, number>();
    let nonZero = false;
    for (const match of matchLines(path, text, LINE, 'ADDRESS TYPE NAME [MODULE]')) {
      const [, hexAddress, type, name, module] = match as unknown as [string, string, string, string, string | undefined];
      const address = BigInt(`0x${hexAddress}`);
      if (address === 0n) continue;
      nonZero = true;
      if (!TEXT_TYPES.has(type) || address < KERNEL_HALF) continue;
      const moduleName = module === undefined ? KERNEL_MODULE : `[${module}]`;
      let moduleId = moduleIndex.get(moduleName);
      if (moduleId === undefined) moduleIndex.set(moduleName, (moduleId = moduleIndex.size));
      ranges.push({ start: Number(address - KERNEL_HALF), size: 0, value: names.length });
      names.push(name);
      // 0 for global (upper-case type), 2 for local, as preferredAlias ranks them.
      ranks.push(type === type.toUpperCase() ? 0 : 2);
      moduleOf.push(moduleId);
    }
    const better = (a: number, b: number): boolean => preferredAlias({ name: names[a]!, rank: ranks[a]! }, { name: names[b]!, rank: ranks[b]! });
    const nameStarts = new Uint32Array(names.length + 1);
    names.forEach((name, i) => (nameStarts[i + 1] = nameStarts[i]! + name.length));
    const packed = Buffer.allocUnsafe(nameStarts[names.length]!);
    names.forEach((name, i) => packed.write(name, nameStarts[i]!, 'latin1'));
    return new KernelSymbols(new AddressTable(ranges, better), packed, nameStarts, Uint32Array.from(moduleOf), [...moduleIndex.keys()], !nonZero);
  }

  /** The symbol holding `address`; [unknown] in [kernel] past the last symbol or when restricted. */
  frameAt(address: bigint): Frame {
    if (address < KERNEL_HALF) return UNKNOWN_KERNEL_FRAME;
    const symbol = this.table.find(Number(address - KERNEL_HALF));
    if (symbol === undefined) return UNKNOWN_KERNEL_FRAME;
    let frame = this.frames.get(symbol);
    if (frame === undefined) {
      frame = { name: this.names.toString('latin1', this.nameStarts[symbol]!, this.nameStarts[symbol + 1]!), module: this.modules[this.moduleOf[symbol]!]!, kind: 'kernel' };
      this.frames.set(symbol, frame);
    }
    return frame;
  }
}
