// Reads the build information the Go linker embeds in every Go executable: the toolchain version
// and the module/build settings that `go version -m` prints. Follows src/debug/buildinfo.
//
// The blob is 16-byte aligned in .go.buildinfo (or, for binaries without section headers, near
// the start of the first writable non-executable PT_LOAD) and starts with a 32-byte header:
//   "\xff Go buildinf:" (14 bytes), ptrSize u8, flags u8, then two pointers (before Go 1.18).
// flags & 2 (Go 1.18+): the version and modinfo strings follow the header inline, each prefixed
// with its length as a uvarint. Otherwise the two pointers lead to Go string headers {ptr, len}.
// modinfo is framed by 16-byte sentinels, which are stripped.
import { BinaryFormatError } from './errors.js';
import { ElfFile, PF_W, PF_X, PT_LOAD, SHT_NOBITS } from './elf.js';

const MAGIC = Buffer.from('\xff Go buildinf:', 'latin1');
const ALIGN = 16;
const HEADER_SIZE = 32;
const FLAGS_VERSION_INLINE = 0x2;
const FLAGS_BIG_ENDIAN = 0x1;
const SEARCH_CHUNK = 1 << 20;

export interface GoModule {
  path: string;
  version: string;
  sum: string;
  replace?: GoModule;
}

export interface GoBuildInfo {
  /** As `go version` prints it, e.g. "go1.26.8". */
  goVersion: string;
  /** Import path of the main package. */
  path: string;
  mainModule: GoModule | undefined;
  deps: GoModule[];
  /** `build` lines: -buildmode, -ldflags, GOARCH, CGO_ENABLED, vcs.revision, ... */
  settings: Record<string, string>;
}

/** Build info of a Go executable; undefined when the file is not a Go binary (no build info blob). */
export function readGoBuildInfo(elf: ElfFile): GoBuildInfo | undefined {
  const region = searchRegion(elf);
  if (region === undefined) return undefined;
  const at = findMagic(elf, region.vaddr, region.size);
  if (at === undefined) return undefined;
  const header = elf.readVirtual(at, HEADER_SIZE);
  if (header.length < HEADER_SIZE) throw new BinaryFormatError(elf.path, `Go build info header at 0x${at.toString(16)} is truncated`);
  const flags = header[15] ?? 0;
  let version: string;
  let modinfo: string;
  if ((flags & FLAGS_VERSION_INLINE) !== 0) {
    const first = readInlineString(elf, at + HEADER_SIZE);
    version = first.value;
    modinfo = readInlineString(elf, first.next).value;
  } else {
    if ((flags & FLAGS_BIG_ENDIAN) !== 0) throw new BinaryFormatError(elf.path, 'Go build info is big-endian, in a little-endian ELF file');
    const ptrSize = header[14] ?? 0;
    if (ptrSize !== 4 && ptrSize !== 8) throw new BinaryFormatError(elf.path, `Go build info has bad pointer size ${ptrSize}`);
    const readPtr = (buf: Buffer, offset: number): number => (ptrSize === 8 ? Number(buf.readBigUInt64LE(offset)) : buf.readUInt32LE(offset));
    const readGoString = (addr: number): string => {
      const stringHeader = elf.readVirtual(addr, 2 * ptrSize);
      if (stringHeader.length < 2 * ptrSize) return '';
      const length = readPtr(stringHeader, ptrSize);
      const bytes = elf.readVirtual(readPtr(stringHeader, 0), length);
      return bytes.length < length ? '' : bytes.toString('utf8');
    };
    version = readGoString(readPtr(header, 16));
    modinfo = readGoString(readPtr(header, 16 + ptrSize));
  }
  if (version === '') return undefined;
  // Strip the 16-byte sentinels (cmd/go/internal/modload infoStart/infoEnd) around the text.
  const framed = modinfo.length >= 33 && modinfo[modinfo.length - 17] === '\n';
  return parseModinfo(elf.path, version, framed ? modinfo.slice(16, -16) : '');
}

function searchRegion(elf: ElfFile): { vaddr: number; size: number } | undefined {
  const section = elf.sectionHeader('.go.buildinfo');
  if (section !== undefined && section.type !== SHT_NOBITS) return { vaddr: section.addr, size: section.size };
  const segment = elf.programHeaders.find((p) => p.type === PT_LOAD && (p.flags & (PF_X | PF_W)) === PF_W);
  return segment === undefined ? undefined : { vaddr: segment.vaddr, size: segment.filesz };
}

function findMagic(elf: ElfFile, start: number, size: number): number | undefined {
  const end = start + size;
  // The blob is 16-byte aligned, so it never straddles two aligned chunks.
  for (let chunkStart = Math.ceil(start / ALIGN) * ALIGN; chunkStart < end; chunkStart += SEARCH_CHUNK) {
    const chunk = elf.readVirtual(chunkStart, Math.min(SEARCH_CHUNK, end - chunkStart));
    if (chunk.length === 0) return undefined;
    for (let i = chunk.indexOf(MAGIC); i >= 0; i = chunk.indexOf(MAGIC, i + 1)) {
      if (i % ALIGN === 0) return chunkStart + i;
    }
  }
  return undefined;
}

function readInlineString(elf: ElfFile, addr: number): { value: string; next: number } {
  const prefix = elf.readVirtual(addr, 10);
  let length = 0;
  let used = 0;
  for (;;) {
    const b = prefix[used];
    if (b === undefined || used >= 9) throw new BinaryFormatError(elf.path, `bad string length in Go build info at 0x${addr.toString(16)}`);
    length += (b & 0x7f) * 2 ** (7 * used);
    used++;
    if ((b & 0x80) === 0) break;
  }
  const bytes = elf.readVirtual(addr + used, length);
  if (bytes.length < length) throw new BinaryFormatError(elf.path, `Go build info string at 0x${addr.toString(16)} runs past its segment`);
  return { value: bytes.toString('utf8'), next: addr + used + length };
}

/** Parses modinfo text (runtime/debug.ParseBuildInfo): tab-separated path/mod/dep/=>/build lines. */
export function parseModinfo(file: string, goVersion: string, text: string): GoBuildInfo {
  const info: GoBuildInfo = { goVersion, path: '', mainModule: undefined, deps: [], settings: {} };
  let last: GoModule | undefined;
  const lines = text.split('\n');
  lines.forEach((line, index) => {
    const bad = (what: string): never => {
      throw new BinaryFormatError(file, `bad Go build info, line ${index + 1}: ${what}`);
    };
    const [kind, ...rest] = line.split('\t');
    const module = (): GoModule => {
      if (rest.length !== 2 && rest.length !== 3) bad(`expected 2 or 3 columns, got ${rest.length}`);
      return { path: rest[0] ?? '', version: rest[1] ?? '', sum: rest[2] ?? '' };
    };
    switch (kind) {
      case 'path':
        info.path = rest.join('\t');
        break;
      case 'mod':
        info.mainModule = module();
        last = info.mainModule;
        break;
      case 'dep':
        last = module();
        info.deps.push(last);
        break;
      case '=>':
        if (rest.length !== 3) bad(`expected 3 columns for a replacement, got ${rest.length}`);
        if (last === undefined) bad('replacement with no module on the line before');
        last!.replace = { path: rest[0] ?? '', version: rest[1] ?? '', sum: rest[2] ?? '' };
        last = undefined;
        break;
      case 'build': {
        const [key, value] = parseSetting(rest.join('\t'), bad);
        info.settings[key] = value;
        break;
      }
      default:
        break;
    }
  });
  return info;
}

function parseSetting(kv: string, bad: (what: string) => never): [string, string] {
  let key: string;
  let raw: string;
  if (kv.startsWith('"') || kv.startsWith('`')) {
    const quoted = quotedPrefix(kv) ?? bad('bad quoted key');
    if (kv[quoted.length] !== '=') bad('missing "=" after quoted key');
    key = goUnquote(quoted) ?? bad('bad quoted key');
    raw = kv.slice(quoted.length + 1);
  } else {
    const eq = kv.indexOf('=');
    if (eq <= 0) bad('build line without key=value');
    key = kv.slice(0, eq);
    raw = kv.slice(eq + 1);
  }
  const value = raw.startsWith('"') || raw.startsWith('`') ? goUnquote(raw) ?? bad('bad quoted value') : raw;
  return [key, value];
}

/** The leading Go-quoted string of s ("..." with escapes, or `...`), or undefined. */
function quotedPrefix(s: string): string | undefined {
  const quote = s[0];
  if (quote === '`') {
    const end = s.indexOf('`', 1);
    return end < 0 ? undefined : s.slice(0, end + 1);
  }
  for (let i = 1; i < s.length; i++) {
    if (s[i] === '\\') i++;
    else if (s[i] === '"') return s.slice(0, i + 1);
  }
  return undefined;
}

const SIMPLE_ESCAPES: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', '"': '"', "'": "'" };

/** strconv.Unquote for the double-quoted and raw forms. */
function goUnquote(s: string): string | undefined {
  if (s.length >= 2 && s.startsWith('`') && s.endsWith('`')) return s.slice(1, -1);
  if (s.length < 2 || !s.startsWith('"') || !s.endsWith('"')) return undefined;
  const body = s.slice(1, -1);
  const bytes: number[] = [];
  const pushText = (text: string): void => {
    for (const b of Buffer.from(text, 'utf8')) bytes.push(b);
  };
  for (let i = 0; i < body.length; i++) {
    const c = body[i] ?? '';
    if (c !== '\\') {
      pushText(c);
      continue;
    }
    const e = body[++i] ?? '';
    const simple = SIMPLE_ESCAPES[e];
    if (simple !== undefined) {
      pushText(simple);
    } else if (e === 'x' || e === 'u' || e === 'U') {
      const digits = e === 'x' ? 2 : e === 'u' ? 4 : 8;
      const hexDigits = body.slice(i + 1, i + 1 + digits);
      if (!/^[0-9a-fA-F]+$/.test(hexDigits) || hexDigits.length !== digits) return undefined;
      const code = parseInt(hexDigits, 16);
      if (e === 'x') bytes.push(code);
      else pushText(String.fromCodePoint(code));
      i += digits;
    } else if (e >= '0' && e <= '7') {
      const octal = body.slice(i, i + 3);
      if (!/^[0-7]{3}$/.test(octal)) return undefined;
      bytes.push(parseInt(octal, 8));
      i += 2;
    } else {
      return undefined;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}
