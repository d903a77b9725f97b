// Kernel symbols from /proc/kallsyms for the kernel part of sampled stacks. Lines are
// `ADDRESS TYPE NAME` with `\t[MODULE]` appended for symbols of loaded modules (and BPF
// programs, as `[bpf]`). Only text symbols name code. With kptr_restrict in force the kernel
// shows every address as zero: nothing can be resolved, and every frame is [unknown].
import fs from 'node:fs';
import type { Frame } from '../model.js';
import { AddressTable, preferredAlias, type AddressRange } from './address-table.js';
import { matchLines } from './text-lines.js';

export const DEFAULT_KALLSYMS_PATH = '/proc/kallsyms';

/** Kernel addresses live in the top half; stored relative to this they are exact as numbers. */
const KERNEL_HALF = 0xffff_0000_0000_0000n;
const TEXT_TYPES = new Set(['t', 'T', 'w', 'W']);
const KERNEL_MODULE = '[kernel]';
/** The frame for a kernel address no symbol holds, and for every kernel address when kallsyms cannot be read. */
export const UNKNOWN_KERNEL_FRAME: Frame = { name: '[unknown]', module: KERNEL_MODULE, kind: 'unknown' };
const LINE = /^([0-9a-f]+) (\S) (\S+)(?:\t\[(\S+)\])?$/;

interface KernelSymbol {
  frame: Frame;
  /** 0 for global (upper-case type), 2 for local, as preferredAlias ranks them. */
  rank: number;
}

export class KernelSymbols {
  private constructor(
    private readonly table: AddressTable<KernelSymbol>,
    /** Every address read as zero (kptr_restrict): nothing resolves. */
    readonly restricted: boolean,
  ) {}

  /** Parses the whole file; throws SymbolSourceFormatError on a line it cannot read. */
  static load(path: string = DEFAULT_KALLSYMS_PATH): KernelSymbols {
    return KernelSymbols.parse(path, fs.readFileSync(path, 'latin1'));
  }

  static parse(path: string, text: string): KernelSymbols {
    const ranges: AddressRange<KernelSymbol>[] = [];
    let nonZero = false;
    for (const match of matchLines(path, text, LINE, 'ADDRESS TYPE NAME [MODULE]')) {
      const [, hexAddress, type, name, module] = match as unknown as [string, string, string, string, string | undefined];
      const address = BigInt(`0x${hexAddress}`);
      if (address === 0n) continue;
      nonZero = true;
      if (!TEXT_TYPES.has(type) || address < KERNEL_HALF) continue;
      ranges.push({
        start: Number(address - KERNEL_HALF),
        size: 0,
        value: { frame: { name, module: module === undefined ? KERNEL_MODULE : `[${module}]`, kind: 'kernel' }, rank: type === type.toUpperCase() ? 0 : 2 },
      });
    }
    const better = (a: KernelSymbol, b: KernelSymbol): boolean => preferredAlias({ name: a.frame.name, rank: a.rank }, { name: b.frame.name, rank: b.rank });
    return new KernelSymbols(new AddressTable(ranges, better), !nonZero);
  }

  /** The symbol holding `address`; [unknown] in [kernel] past the last symbol or when restricted. */
  frameAt(address: bigint): Frame {
    if (address < KERNEL_HALF) return UNKNOWN_KERNEL_FRAME;
    return this.table.find(Number(address - KERNEL_HALF))?.frame ?? UNKNOWN_KERNEL_FRAME;
  }
}
