// Finds the functions the agent attaches uprobes to. Uprobes attach by file offset, so every
// result carries the function's virtual address and the file offset it maps to.
//
// Sources, in order: .symtab, .dynsym, then (for Go) .gopclntab, which is all a stripped Go
// binary (`go build -ldflags='-s -w'`) has left.
import { BinaryFormatError } from './errors.js';
import { defaultSymbolCache, type CachedBinary, type SymbolCache } from './cache.js';
import type { ElfSymbol } from './elf.js';
import { GO_PROLOGUE_BYTES, pastGoStackCheck } from './go-prologue.js';

export type FunctionSource = 'symtab' | 'dynsym' | 'gopclntab';

export interface ResolvedFunction {
  name: string;
  vaddr: number;
  fileOffset: number;
  /** Size in bytes (from the symbol, or the distance to the next function for .gopclntab). */
  size: number;
  source: FunctionSource;
}

/** Import path of the Go SDK package whose marker functions the agent probes. */
export const GO_SDK_PACKAGE = 'hearth.local/sdk';

/** Startup phases and SDK markers, in the order a Go worker reaches them. */
export const GO_ENTRY_POINTS = {
  runtimeMain: ['runtime.main'],
  // doInit1 runs one package's init tasks (Go 1.21+); older runtimes only have doInit.
  doInit: ['runtime.doInit1', 'runtime.doInit'],
  mainMain: ['main.main'],
  markStateMapped: [`${GO_SDK_PACKAGE}.markStateMapped`],
  markReady: [`${GO_SDK_PACKAGE}.markReady`],
  markInvokeStart: [`${GO_SDK_PACKAGE}.markInvokeStart`],
  markInvokeEnd: [`${GO_SDK_PACKAGE}.markInvokeEnd`],
} as const;

export type GoEntryPoint = keyof typeof GO_ENTRY_POINTS;
/** The entry points found; a missing key means the binary does not have that function. */
export type GoEntryPoints = Partial<Record<GoEntryPoint, ResolvedFunction>>;

/** The function with exactly this name, or undefined. */
export function resolveFunction(path: string, name: string, cache: SymbolCache = defaultSymbolCache): ResolvedFunction | undefined {
  return resolveIn(cache.get(path), name);
}

/** The file offset to attach a uprobe to a Go function at: past its stack-bound check when it has one (see go-prologue.ts). */
export function goProbeOffset(path: string, fn: ResolvedFunction, cache: SymbolCache = defaultSymbolCache): number {
  const code = cache.get(path).elf.readAt(fn.fileOffset, Math.min(GO_PROLOGUE_BYTES, fn.size), `the first instructions of ${fn.name}`);
  return fn.fileOffset + pastGoStackCheck(code);
}

/** runtime.main, runtime.doInit1 (else doInit), main.main and the SDK markers, whichever exist. */
export function resolveGoEntryPoints(path: string, cache: SymbolCache = defaultSymbolCache): GoEntryPoints {
  const binary = cache.get(path);
  const result: GoEntryPoints = {};
  for (const [role, names] of Object.entries(GO_ENTRY_POINTS) as [GoEntryPoint, readonly string[]][]) {
    for (const name of names) {
      const found = resolveIn(binary, name);
      if (found !== undefined) {
        result[role] = found;
        break;
      }
    }
  }
  return result;
}

/** Every function whose name starts with prefix (symbol tables first, then .gopclntab names not already listed). */
export function findByPrefix(path: string, prefix: string, cache: SymbolCache = defaultSymbolCache): ResolvedFunction[] {
  const binary = cache.get(path);
  const pclntab = requireSymbols(binary);
  const found = binary.symbols().filter((s) => s.type === 'func' && s.name.startsWith(prefix)).map((s) => fromSymbol(binary, s));
  if (pclntab !== undefined) {
    const seen = new Set(found.map((f) => f.name));
    for (const f of pclntab.functions()) {
      if (f.name.startsWith(prefix) && !seen.has(f.name)) {
        found.push({ name: f.name, vaddr: f.entry, fileOffset: binary.elf.vaddrToOffset(f.entry), size: f.end - f.entry, source: 'gopclntab' });
      }
    }
  }
  return found;
}

export interface CppLookupOptions {
  /**
   * Also return compiler clones (`.isra.0`, `.constprop.0`, `.lto_priv.0`): specialised copies that
   * some callers enter instead of the function. Fragments split off a function (`.cold`, `.part.N`)
   * are never returned: they are not entry points.
   */
  includeClones?: boolean;
}

/**
 * Every function (all overloads, const and template variants) with this C++ qualified name,
 * e.g. `node::LoadEnvironment`, matched on the Itanium-mangled symbol names without demangling.
 * Constructors (`ns::Cls::Cls`) and destructors (`ns::Cls::~Cls`) work too; operators and names
 * with template arguments do not.
 */
export function findCppFunction(path: string, qualifiedName: string, options: CppLookupOptions = {}, cache: SymbolCache = defaultSymbolCache): ResolvedFunction[] {
  const pattern = itaniumPattern(qualifiedName);
  const binary = cache.get(path);
  requireSymbols(binary);
  const results: ResolvedFunction[] = [];
  for (const symbol of binary.symbols()) {
    if (symbol.type !== 'func' || !symbol.name.startsWith('_Z')) continue;
    const match = pattern.exec(symbol.name);
    if (match === null) continue;
    const dot = symbol.name.indexOf('.', match[0].length);
    if (dot >= 0) {
      const suffix = symbol.name.slice(dot);
      if (options.includeClones !== true || suffix.startsWith('.cold') || suffix.startsWith('.part.')) continue;
    }
    results.push(fromSymbol(binary, symbol));
  }
  return results;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * A regular expression matching the start of the Itanium mangled names of a qualified function:
 * `a::b::f` is `_ZN1a1b1fE` followed by the parameter types, with optional cv/ref qualifiers
 * after `_ZN` (const members: `_ZNK...`), or `I` (template arguments) or `B` (an ABI tag such as
 * [abi:cxx11]) in place of the `E`. A name without `::` is `_Z1f`.
 */
export function itaniumPattern(qualifiedName: string): RegExp {
  const parts = qualifiedName.split('::');
  const last = parts[parts.length - 1] ?? '';
  const scopes = parts.slice(0, -1);
  const bad = (): never => {
    throw new Error(`cannot build a mangled name for "${qualifiedName}": want identifiers joined by ::, like node::LoadEnvironment`);
  };
  if (!scopes.every((p) => IDENTIFIER.test(p))) bad();
  const encode = (p: string): string => `${p.length}${p}`;
  const owner = scopes[scopes.length - 1];
  let unqualified: string;
  if (owner !== undefined && last === owner) unqualified = 'C(?:1|2|3|I1|I2)'; // constructor variants
  else if (owner !== undefined && last === `~${owner}`) unqualified = 'D[012]'; // destructor variants
  else if (IDENTIFIER.test(last)) unqualified = encode(last);
  else return bad();

  if (scopes.length === 0) return new RegExp(`^_Z${unqualified}`);
  // std:: is abbreviated to St.
  const std = scopes[0] === 'std';
  const scopeText = (std ? scopes.slice(1) : scopes).map(encode).join('');
  if (std && scopes.length === 1) return new RegExp(`^_ZSt${unqualified}`);
  return new RegExp(`^_ZNr?V?K?[RO]?${std ? 'St' : ''}${scopeText}${unqualified}(?=[EIB])`);
}

function resolveIn(binary: CachedBinary, name: string): ResolvedFunction | undefined {
  const candidates = binary.symbolsNamed(name).filter((s) => s.type === 'func');
  // Prefer a global definition, and .symtab (listed first) over .dynsym.
  const symbol = candidates.find((s) => s.bind !== 'local') ?? candidates[0];
  if (symbol !== undefined) return fromSymbol(binary, symbol);
  const f = requireSymbols(binary)?.funcByName(name);
  if (f === undefined) return undefined;
  return { name, vaddr: f.entry, fileOffset: binary.elf.vaddrToOffset(f.entry), size: f.end - f.entry, source: 'gopclntab' };
}

/** The Go table if there is one; throws when there is nothing at all to look names up in. */
function requireSymbols(binary: CachedBinary): ReturnType<CachedBinary['pclntab']> {
  const pclntab = binary.pclntab();
  if (pclntab === undefined && binary.symbols().length === 0) {
    throw new BinaryFormatError(binary.path, 'no .gopclntab section and no symbol table');
  }
  return pclntab;
}

function fromSymbol(binary: CachedBinary, symbol: ElfSymbol): ResolvedFunction {
  return { name: symbol.name, vaddr: symbol.value, fileOffset: binary.elf.vaddrToOffset(symbol.value), size: symbol.size, source: symbol.source };
}
