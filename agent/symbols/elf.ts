// A lazy reader for 64-bit little-endian ELF executables (x86-64 and arm64 Linux).
//
// Opening reads only the ELF header, the program and section header tables and the section
// name table; everything else (symbol tables, .gopclntab, notes) is read on demand, so a
// 100 MB binary costs a few kilobytes until a caller asks for its symbols. Each later read
// reopens the path and checks that it is still the same file (device, inode, mtime, size):
// holding no descriptor means a cached ElfFile never leaks one, and a binary replaced on disk
// is reported instead of being read at offsets that belong to the old file.
import fs from 'node:fs';
import { BinaryChangedError, BinaryFormatError, UnsupportedBinaryError } from './errors.js';

export const PT_LOAD = 1;
export const PT_INTERP = 3;
export const PT_NOTE = 4;
export const PF_X = 1;
export const PF_W = 2;
export const PF_R = 4;
export const SHT_PROGBITS = 1;
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_RELA = 4;
export const SHT_NOTE = 7;
export const SHT_NOBITS = 8;
export const SHT_DYNSYM = 11;
export const SHF_WRITE = 0x1;
export const SHF_ALLOC = 0x2;
export const SHF_EXECINSTR = 0x4;
export const SHF_COMPRESSED = 0x800;
export const ET_EXEC = 2;
export const ET_DYN = 3;

const EHDR_SIZE = 64;
const PHDR_SIZE = 56;
const SHDR_SIZE = 64;
const SYM_SIZE = 24;
const SHN_UNDEF = 0;
const SHN_XINDEX = 0xffff;
const PN_XNUM = 0xffff;
const STT_OBJECT = 1;
const STT_FUNC = 2;
const STT_SECTION = 3;
const STT_FILE = 4;
const STT_GNU_IFUNC = 10;
const NT_GNU_BUILD_ID = 3;
const NT_GO_BUILD_ID = 4;

export interface ElfSection {
  index: number;
  name: string;
  type: number;
  flags: number;
  addr: number;
  offset: number;
  size: number;
  link: number;
  info: number;
  addralign: number;
  entsize: number;
}

export interface ElfProgramHeader {
  type: number;
  flags: number;
  offset: number;
  vaddr: number;
  filesz: number;
  memsz: number;
  align: number;
}

export type ElfSymbolType = 'func' | 'object' | 'other';
export type ElfSymbolBind = 'local' | 'global' | 'weak' | 'other';

export interface ElfSymbol {
  name: string;
  /** Virtual address (for executables and shared objects alike, as the file states it). */
  value: number;
  size: number;
  type: ElfSymbolType;
  bind: ElfSymbolBind;
  /** Index of the section the symbol is defined in (SHN_* values above 0xff00 are special). */
  sectionIndex: number;
  source: 'symtab' | 'dynsym';
}

/** What identifies one version of a file on disk. */
export interface FileIdentity {
  dev: bigint;
  ino: bigint;
  mtimeNs: bigint;
  size: number;
}

export function identityOf(stat: fs.BigIntStats): FileIdentity {
  return { dev: stat.dev, ino: stat.ino, mtimeNs: stat.mtimeNs, size: Number(stat.size) };
}

export function sameIdentity(a: FileIdentity, b: FileIdentity): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.mtimeNs === b.mtimeNs && a.size === b.size;
}

export function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

/** Reads a 64-bit field; exact below 2^53, which covers every offset and user-space address. */
export function u64(buf: Buffer, offset: number): number {
  return buf.readUInt32LE(offset + 4) * 0x1_0000_0000 + buf.readUInt32LE(offset);
}

export class ElfFile {
  readonly path: string;
  readonly identity: FileIdentity;
  /** e_type: ET_EXEC (2) for fixed-address executables, ET_DYN (3) for PIE and shared objects. */
  readonly type: number;
  /** e_machine: 62 is x86-64, 183 is arm64. */
  readonly machine: number;
  readonly entry: number;
  readonly sections: readonly ElfSection[];
  /** Every program header; `loadSegments` has only the PT_LOAD ones. */
  readonly programHeaders: readonly ElfProgramHeader[];
  private symbolCache: ElfSymbol[] | undefined;

  private constructor(path: string, identity: FileIdentity, header: Buffer, sections: ElfSection[], programHeaders: ElfProgramHeader[]) {
    this.path = path;
    this.identity = identity;
    this.type = header.readUInt16LE(16);
    this.machine = header.readUInt16LE(18);
    this.entry = u64(header, 24);
    this.sections = sections;
    this.programHeaders = programHeaders;
  }

  static open(path: string): ElfFile {
    const fd = fs.openSync(path, 'r');
    try {
      const stat = fs.fstatSync(fd, { bigint: true });
      if (!stat.isFile()) throw new BinaryFormatError(path, 'not a regular file, so not an executable');
      const identity = identityOf(stat);
      const read = (offset: number, length: number): Buffer => readFully(fd, offset, length);
      const header = read(0, Math.min(EHDR_SIZE, identity.size));
      checkIdent(path, header, identity.size);

      const phoff = checkedU64(path, header, 32, 'e_phoff');
      const shoff = checkedU64(path, header, 40, 'e_shoff');
      const phentsize = header.readUInt16LE(54);
      let phnum = header.readUInt16LE(56);
      const shentsize = header.readUInt16LE(58);
      let shnum = header.readUInt16LE(60);
      let shstrndx = header.readUInt16LE(62);

      // Section 0 carries the real counts when they do not fit in the 16-bit header fields.
      if (shoff !== 0) {
        if (shentsize !== SHDR_SIZE) throw new BinaryFormatError(path, `bad ELF section header size ${shentsize} (want ${SHDR_SIZE})`);
        checkRange(path, identity.size, shoff, SHDR_SIZE, 'section header table');
        const first = read(shoff, SHDR_SIZE);
        if (shnum === 0) shnum = checkedU64(path, first, 32, 'section count');
        if (shstrndx === SHN_XINDEX) shstrndx = first.readUInt32LE(40);
        if (phnum === PN_XNUM) phnum = first.readUInt32LE(44);
      } else {
        shnum = 0;
      }

      const programHeaders: ElfProgramHeader[] = [];
      if (phnum > 0) {
        if (phentsize !== PHDR_SIZE) throw new BinaryFormatError(path, `bad ELF program header size ${phentsize} (want ${PHDR_SIZE})`);
        checkRange(path, identity.size, phoff, phnum * PHDR_SIZE, `program header table (${phnum} entries at ${hex(phoff)})`);
        const table = read(phoff, phnum * PHDR_SIZE);
        for (let i = 0; i < phnum; i++) {
          const at = i * PHDR_SIZE;
          programHeaders.push({
            type: table.readUInt32LE(at),
            flags: table.readUInt32LE(at + 4),
            offset: checkedU64(path, table, at + 8, 'p_offset'),
            vaddr: u64(table, at + 16),
            filesz: checkedU64(path, table, at + 32, 'p_filesz'),
            memsz: checkedU64(path, table, at + 40, 'p_memsz'),
            align: u64(table, at + 48),
          });
        }
      }

      const sections: ElfSection[] = [];
      if (shnum > 0) {
        checkRange(path, identity.size, shoff, shnum * SHDR_SIZE, `section header table (${shnum} entries at ${hex(shoff)})`);
        const table = read(shoff, shnum * SHDR_SIZE);
        const nameOffsets: number[] = [];
        for (let i = 0; i < shnum; i++) {
          const at = i * SHDR_SIZE;
          nameOffsets.push(table.readUInt32LE(at));
          sections.push({
            index: i,
            name: '',
            type: table.readUInt32LE(at + 4),
            flags: u64(table, at + 8),
            addr: u64(table, at + 16),
            offset: checkedU64(path, table, at + 24, 'sh_offset'),
            size: checkedU64(path, table, at + 32, 'sh_size'),
            link: table.readUInt32LE(at + 40),
            info: table.readUInt32LE(at + 44),
            addralign: u64(table, at + 48),
            entsize: u64(table, at + 56),
          });
        }
        const names = sections[shstrndx];
        if (shstrndx !== 0 && names !== undefined && names.type === SHT_STRTAB) {
          checkRange(path, identity.size, names.offset, names.size, 'section name table (.shstrtab)');
          const strtab = read(names.offset, names.size);
          sections.forEach((section, i) => {
            section.name = cString(strtab, nameOffsets[i] ?? 0);
          });
        } else if (shstrndx !== 0) {
          throw new BinaryFormatError(path, `bad section name table index ${shstrndx} (${shnum} sections)`);
        }
      }
      return new ElfFile(path, identity, header, sections, programHeaders);
    } finally {
      fs.closeSync(fd);
    }
  }

  get loadSegments(): ElfProgramHeader[] {
    return this.programHeaders.filter((p) => p.type === PT_LOAD);
  }

  sectionHeader(name: string): ElfSection | undefined {
    return this.sections.find((s) => s.name === name);
  }

  /** The bytes a section occupies in the file; undefined when there is no such section. */
  section(name: string): Buffer | undefined {
    const header = this.sectionHeader(name);
    return header === undefined ? undefined : this.sectionData(header);
  }

  sectionData(section: ElfSection): Buffer {
    // SHT_NOBITS (.bss) occupies no file bytes.
    if (section.type === SHT_NOBITS) return Buffer.alloc(0);
    if ((section.flags & SHF_COMPRESSED) !== 0) {
      throw new UnsupportedBinaryError(this.path, `section ${section.name} is compressed (SHF_COMPRESSED), which is not supported`);
    }
    return this.readAt(section.offset, section.size, `section ${section.name}`);
  }

  /** Reads file bytes; throws if the range is beyond the end of the file or the file changed. */
  readAt(offset: number, length: number, what = 'data'): Buffer {
    checkRange(this.path, this.identity.size, offset, length, what);
    if (length === 0) return Buffer.alloc(0);
    const fd = fs.openSync(this.path, 'r');
    try {
      if (!sameIdentity(identityOf(fs.fstatSync(fd, { bigint: true })), this.identity)) throw new BinaryChangedError(this.path);
      return readFully(fd, offset, length);
    } finally {
      fs.closeSync(fd);
    }
  }

  /**
   * Reads up to `length` bytes at a virtual address, stopping at the end of the file-backed part of
   * the PT_LOAD segment that holds it (the result may be shorter than asked).
   */
  readVirtual(vaddr: number, length: number): Buffer {
    const segment = this.segmentFor(vaddr);
    if (segment === undefined) throw new BinaryFormatError(this.path, `address ${hex(vaddr)} is not in the file part of any PT_LOAD segment`);
    const available = segment.vaddr + segment.filesz - vaddr;
    return this.readAt(segment.offset + (vaddr - segment.vaddr), Math.min(length, available), `data at ${hex(vaddr)}`);
  }

  /** File offset of a virtual address, via the PT_LOAD segment that maps it (what a uprobe needs). */
  vaddrToOffset(vaddr: number): number {
    const segment = this.segmentFor(vaddr);
    if (segment !== undefined) return segment.offset + (vaddr - segment.vaddr);
    const inMemory = this.loadSegments.some((p) => vaddr >= p.vaddr && vaddr < p.vaddr + p.memsz);
    throw new BinaryFormatError(
      this.path,
      inMemory
        ? `address ${hex(vaddr)} is in the zero-filled (bss) part of a PT_LOAD segment and has no file offset`
        : `address ${hex(vaddr)} is not mapped by any PT_LOAD segment`,
    );
  }

  private segmentFor(vaddr: number): ElfProgramHeader | undefined {
    return this.programHeaders.find((p) => p.type === PT_LOAD && vaddr >= p.vaddr && vaddr < p.vaddr + p.filesz);
  }

  /** The GNU build ID (NT_GNU_BUILD_ID) as lowercase hex, as `file` and `readelf -n` print it. */
  buildId(): string | undefined {
    const desc = this.findNote('GNU', NT_GNU_BUILD_ID, '.note.gnu.build-id');
    return desc?.toString('hex');
  }

  /** The Go build ID (the `.note.go.buildid` note), as `go tool buildid` prints it. */
  goBuildId(): string | undefined {
    const desc = this.findNote('Go', NT_GO_BUILD_ID, '.note.go.buildid');
    return desc?.toString('utf8');
  }

  private findNote(owner: string, type: number, preferred: string): Buffer | undefined {
    const preferredSection = this.sectionHeader(preferred);
    const candidates: { offset: number; size: number; align: number }[] = [];
    if (preferredSection !== undefined && preferredSection.type === SHT_NOTE) candidates.push({ offset: preferredSection.offset, size: preferredSection.size, align: preferredSection.addralign });
    for (const s of this.sections) if (s.type === SHT_NOTE && s !== preferredSection) candidates.push({ offset: s.offset, size: s.size, align: s.addralign });
    // Without section headers the notes are still reachable through PT_NOTE segments.
    if (this.sections.length === 0) for (const p of this.programHeaders) if (p.type === PT_NOTE) candidates.push({ offset: p.offset, size: p.filesz, align: p.align });
    for (const candidate of candidates) {
      const found = findNoteIn(this.readAt(candidate.offset, candidate.size, 'note'), owner, type, candidate.align === 8 ? 8 : 4);
      if (found !== undefined) return found;
    }
    return undefined;
  }

  /** True when the file has a full symbol table (.symtab), which `strip` and `go build -ldflags=-s` remove. */
  hasSymtab(): boolean {
    return this.sections.some((s) => s.type === SHT_SYMTAB);
  }

  /**
   * Defined symbols from .symtab and .dynsym (undefined imports, section and file symbols are
   * left out). A symbol in both tables is listed once, from .symtab. Parsed once per ElfFile.
   */
  symbols(): readonly ElfSymbol[] {
    if (this.symbolCache !== undefined) return this.symbolCache;
    const result: ElfSymbol[] = [];
    const symtab = this.sections.find((s) => s.type === SHT_SYMTAB);
    const dynsym = this.sections.find((s) => s.type === SHT_DYNSYM);
    if (symtab !== undefined) this.readSymbolTable(symtab, 'symtab', result, undefined);
    if (dynsym !== undefined) {
      let seen: Map<number, string | string[]> | undefined;
      if (symtab !== undefined) {
        // Keyed by address (cheap to hash); names compared only for symbols at the same address.
        seen = new Map();
        for (const s of result) {
          const names = seen.get(s.value);
          if (names === undefined) seen.set(s.value, s.name);
          else if (typeof names === 'string') seen.set(s.value, [names, s.name]);
          else names.push(s.name);
        }
      }
      this.readSymbolTable(dynsym, 'dynsym', result, seen);
    }
    this.symbolCache = result;
    return result;
  }

  private readSymbolTable(table: ElfSection, source: 'symtab' | 'dynsym', out: ElfSymbol[], skip: Map<number, string | string[]> | undefined): void {
    const strings = this.sections[table.link];
    if (strings === undefined || strings.type !== SHT_STRTAB) {
      throw new BinaryFormatError(this.path, `symbol table ${table.name} links to section ${table.link}, which is not a string table`);
    }
    if (table.entsize !== 0 && table.entsize !== SYM_SIZE) {
      throw new BinaryFormatError(this.path, `symbol table ${table.name} has entry size ${table.entsize} (want ${SYM_SIZE})`);
    }
    const data = this.sectionData(table);
    const strtab = this.sectionData(strings);
    const count = Math.floor(data.length / SYM_SIZE);
    // Entry 0 is the reserved null symbol.
    for (let i = 1; i < count; i++) {
      const at = i * SYM_SIZE;
      const shndx = data.readUInt16LE(at + 6);
      if (shndx === SHN_UNDEF) continue;
      const info = data[at + 4] ?? 0;
      const stType = info & 0xf;
      if (stType === STT_SECTION || stType === STT_FILE) continue;
      const nameOffset = data.readUInt32LE(at);
      if (nameOffset >= strtab.length) {
        throw new BinaryFormatError(this.path, `symbol ${i} in ${table.name} has name offset ${nameOffset} beyond its string table (${strtab.length} bytes)`);
      }
      const name = cString(strtab, nameOffset);
      if (name === '') continue;
      const value = u64(data, at + 8);
      if (skip !== undefined) {
        const names = skip.get(value);
        if (names === name || (Array.isArray(names) && names.includes(name))) continue;
      }
      const stBind = info >> 4;
      out.push({
        name,
        value,
        size: u64(data, at + 16),
        type: stType === STT_FUNC || stType === STT_GNU_IFUNC ? 'func' : stType === STT_OBJECT ? 'object' : 'other',
        bind: stBind === 0 ? 'local' : stBind === 1 ? 'global' : stBind === 2 ? 'weak' : 'other',
        sectionIndex: shndx,
        source,
      });
    }
  }
}

function checkIdent(path: string, header: Buffer, fileSize: number): void {
  if (fileSize === 0) throw new BinaryFormatError(path, 'not an ELF file (the file is empty)');
  if (header.length < 4 || header[0] !== 0x7f || header[1] !== 0x45 || header[2] !== 0x4c || header[3] !== 0x46) {
    throw new BinaryFormatError(path, 'not an ELF file (bad magic)');
  }
  if (header.length < 16) throw new BinaryFormatError(path, `truncated ELF header (${fileSize} bytes, need ${EHDR_SIZE})`);
  const elfClass = header[4];
  const data = header[5];
  if (elfClass === 1) throw new UnsupportedBinaryError(path, '32-bit ELF (ELFCLASS32) is not supported: only 64-bit little-endian ELF is read');
  if (elfClass !== 2) throw new BinaryFormatError(path, `bad ELF class ${elfClass} (want 2, ELFCLASS64)`);
  if (data === 2) throw new UnsupportedBinaryError(path, 'big-endian ELF (ELFDATA2MSB) is not supported: only 64-bit little-endian ELF is read');
  if (data !== 1) throw new BinaryFormatError(path, `bad ELF data encoding ${data} (want 1, ELFDATA2LSB)`);
  if (header[6] !== 1) throw new BinaryFormatError(path, `bad ELF version ${header[6]} (want 1)`);
  if (header.length < EHDR_SIZE) throw new BinaryFormatError(path, `truncated ELF header (${fileSize} bytes, need ${EHDR_SIZE})`);
}

function checkedU64(path: string, buf: Buffer, offset: number, field: string): number {
  const value = u64(buf, offset);
  if (!Number.isSafeInteger(value)) throw new BinaryFormatError(path, `bad ELF ${field} ${value} (too large)`);
  return value;
}

function checkRange(path: string, fileSize: number, offset: number, length: number, what: string): void {
  if (offset + length > fileSize) {
    throw new BinaryFormatError(path, `${what} (${length} bytes at offset ${hex(offset)}) extends past the end of the file (${fileSize} bytes): truncated?`);
  }
}

function readFully(fd: number, offset: number, length: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, buf, done, length - done, offset + done);
    if (n === 0) return buf.subarray(0, done);
    done += n;
  }
  return buf;
}

/** A NUL-terminated string starting at `offset` (to the end of the buffer if unterminated). */
export function cString(buf: Buffer, offset: number): string {
  if (offset >= buf.length) return '';
  let end = buf.indexOf(0, offset);
  if (end < 0) end = buf.length;
  return buf.toString('utf8', offset, end);
}

function findNoteIn(notes: Buffer, owner: string, type: number, align: number): Buffer | undefined {
  const pad = (n: number): number => (n + align - 1) & ~(align - 1);
  let at = 0;
  while (at + 12 <= notes.length) {
    const namesz = notes.readUInt32LE(at);
    const descsz = notes.readUInt32LE(at + 4);
    const noteType = notes.readUInt32LE(at + 8);
    const nameStart = at + 12;
    const descStart = nameStart + pad(namesz);
    if (descStart + descsz > notes.length) return undefined;
    const name = notes.toString('latin1', nameStart, nameStart + namesz).replace(/\0+$/, '');
    if (name === owner && noteType === type) return notes.subarray(descStart, descStart + descsz);
    at = descStart + pad(descsz);
  }
  return undefined;
}
