// Parses each binary once per process. Workers of one function share a binary, and the agent
// resolves probe targets and symbolises samples for every worker it sees, so the key is the file
// version (path, device, inode, mtime, size): a rebuilt binary at the same path is parsed afresh.
import fs from 'node:fs';
import { ElfFile, identityOf, type ElfSymbol, type FileIdentity } from './elf.js';
import { readGoBuildInfo, type GoBuildInfo } from './gobuildinfo.js';
import { GoPclntab } from './gopclntab.js';

export class CachedBinary {
  readonly elf: ElfFile;
  private pclntabValue: GoPclntab | undefined | null = null;
  private buildInfoValue: GoBuildInfo | undefined | null = null;
  private byName: Map<string, ElfSymbol[]> | undefined;
  private contentKeyValue: string | undefined;

  constructor(elf: ElfFile) {
    this.elf = elf;
  }

  get path(): string {
    return this.elf.path;
  }

  symbols(): readonly ElfSymbol[] {
    return this.elf.symbols();
  }

  /** Symbols by exact name; a name can occur more than once (local symbols of different files). */
  symbolsNamed(name: string): readonly ElfSymbol[] {
    if (this.byName === undefined) {
      this.byName = new Map();
      for (const symbol of this.elf.symbols()) {
        const list = this.byName.get(symbol.name);
        if (list === undefined) this.byName.set(symbol.name, [symbol]);
        else list.push(symbol);
      }
    }
    return this.byName.get(name) ?? [];
  }

  /**
   * What names the binary's contents: its GNU build ID, else its Go build ID, else the file
   * version. Copies of one build (another path, a container's layer) share it.
   */
  contentKey(): string {
    if (this.contentKeyValue === undefined) {
      const gnu = this.elf.buildId();
      const go = gnu === undefined ? this.elf.goBuildId() : undefined;
      this.contentKeyValue = gnu !== undefined ? `gnu:${gnu}` : go !== undefined ? `go:${go}` : `file:${cacheKey(this.path, this.elf.identity)}`;
    }
    return this.contentKeyValue;
  }

  /** The Go function table, or undefined for a binary that has none. */
  pclntab(): GoPclntab | undefined {
    if (this.pclntabValue === null) this.pclntabValue = GoPclntab.fromElf(this.elf);
    return this.pclntabValue;
  }

  buildInfo(): GoBuildInfo | undefined {
    if (this.buildInfoValue === null) this.buildInfoValue = readGoBuildInfo(this.elf);
    return this.buildInfoValue;
  }
}

export function cacheKey(path: string, identity: FileIdentity): string {
  return `${path}\0${identity.dev}\0${identity.ino}\0${identity.mtimeNs}\0${identity.size}`;
}

/** A small LRU of parsed binaries. */
export class SymbolCache {
  private readonly entries = new Map<string, CachedBinary>();
  hits = 0;
  misses = 0;

  constructor(readonly maxEntries = 64) {}

  get size(): number {
    return this.entries.size;
  }

  get(path: string): CachedBinary {
    const key = cacheKey(path, identityOf(fs.statSync(path, { bigint: true })));
    const found = this.entries.get(key);
    if (found !== undefined) {
      this.hits++;
      // Re-insert to mark it most recently used.
      this.entries.delete(key);
      this.entries.set(key, found);
      return found;
    }
    this.misses++;
    const binary = new CachedBinary(ElfFile.open(path));
    // Key by what was actually opened, in case the file was replaced between stat and open.
    this.entries.set(cacheKey(path, binary.elf.identity), binary);
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value);
    }
    return binary;
  }

  clear(): void {
    this.entries.clear();
  }
}

export const defaultSymbolCache = new SymbolCache();
