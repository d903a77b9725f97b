// Readable names for C++ functions from their Itanium-mangled symbols (what g++ and clang emit
// on Linux), as a profile shows them: the qualified name without parameter types, template
// arguments or clone suffixes, e.g. `_ZN2v88internal4Heap14CollectGarbageENS0_15AllocationSpaceE...`
// is `v8::internal::Heap::CollectGarbage` (pprof simplifies names the same way). Frames of one
// function then merge whatever the overload or instantiation, and name patterns (gc-share.ts)
// match. Parameters and template arguments are parsed only to be skipped. A construct this
// reader does not know leaves the symbol as it is: a name is either right or the raw symbol.

/** Thrown inside the reader when it meets what it does not handle; never escapes demangle(). */
class Unsupported extends Error {}

const OPERATORS: Record<string, string> = {
  nw: ' new', na: ' new[]', dl: ' delete', da: ' delete[]', ps: '+', ng: '-', ad: '&', de: '*', co: '~',
  pl: '+', mi: '-', ml: '*', dv: '/', rm: '%', an: '&', or: '|', eo: '^', aS: '=', pL: '+=', mI: '-=',
  mL: '*=', dV: '/=', rM: '%=', aN: '&=', oR: '|=', eO: '^=', ls: '<<', rs: '>>', lS: '<<=', rS: '>>=',
  eq: '==', ne: '!=', lt: '<', gt: '>', le: '<=', ge: '>=', ss: '<=>', nt: '!', aa: '&&', oo: '||',
  pp: '++', mm: '--', cm: ',', pm: '->*', pt: '->', cl: '()', ix: '[]', qu: '?', aw: ' co_await',
};
/** Standard abbreviations (St is std:: itself), named as their templates: arguments are dropped. */
const STD_ABBREVIATIONS: Record<string, string> = {
  Sa: 'std::allocator', Sb: 'std::basic_string', Ss: 'std::basic_string', Si: 'std::basic_istream', So: 'std::basic_ostream', Sd: 'std::basic_iostream',
};
const BUILTIN_TYPES = new Set('vwbcahstijlmxynofdegz');
const BUILTIN_D_TYPES = new Set('nacsiufdehk');
const SPECIAL_PREFIXES: Record<string, string> = { TW: 'TLS wrapper function for ', TH: 'TLS init function for ' };

/** The readable name of a mangled C++ symbol; any other symbol (C, Go, Rust v0) comes back unchanged. */
export function demangle(symbol: string): string {
  if (!symbol.startsWith('_Z')) return symbol;
  // Clone suffixes (.cold, .isra.0, .constprop.0, .part.0) name parts and copies of one function.
  const dot = symbol.indexOf('.');
  try {
    return new Reader(dot < 0 ? symbol : symbol.slice(0, dot)).symbol();
  } catch (error) {
    if (error instanceof Unsupported) return symbol;
    throw error;
  }
}

class Reader {
  private pos = 2;

  constructor(private readonly text: string) {}

  symbol(): string {
    const two = this.text.slice(this.pos, this.pos + 2);
    const special = SPECIAL_PREFIXES[two];
    if (special !== undefined) {
      this.pos += 2;
      return special + this.name();
    }
    if (two === 'Th' || two === 'Tv') {
      this.pos += 2;
      this.callOffset();
      if (two === 'Tv') this.callOffset();
      return `${two === 'Th' ? 'non-virtual' : 'virtual'} thunk to ${this.name()}`;
    }
    return this.name();
  }

  /** A name; `skipping` when it is part of a type that is only passed over (see nested). */
  private name(skipping = false): string {
    const c = this.peek();
    if (c === 'N') return this.nested(skipping);
    if (c === 'Z') return this.local(skipping);
    let name: string;
    if (this.startsWith('St')) {
      this.pos += 2;
      name = `std::${this.unqualified(undefined)}`;
    } else {
      name = this.unqualified(undefined);
    }
    if (this.peek() === 'I') this.skipTemplateArgs();
    return name;
  }

  /**
   * `N [cv] [ref] prefix... E`. A name being read may not start with a back reference or a
   * template parameter: resolving those needs the substitution table, which is not kept. A name
   * inside a skipped type may, and they are passed over.
   */
  private nested(skipping: boolean): string {
    this.pos++;
    while (isOneOf(this.peek(), 'rVK')) this.pos++;
    if (isOneOf(this.peek(), 'RO')) this.pos++;
    const parts: string[] = [];
    while (this.peek() !== 'E') {
      const c = this.peek();
      const abbreviation = STD_ABBREVIATIONS[this.text.slice(this.pos, this.pos + 2)];
      if (this.startsWith('St')) {
        this.pos += 2;
        parts.push('std');
      } else if (abbreviation !== undefined && parts.length === 0) {
        this.pos += 2;
        parts.push(abbreviation);
      } else if (skipping && (c === 'S' || c === 'T')) {
        this.skipType();
        parts.push('');
      } else if (c === 'I') {
        this.skipTemplateArgs();
      } else if (c === 'M') {
        // A closure in a member initialiser: the member named before it is the scope.
        this.pos++;
      } else {
        parts.push(this.unqualified(parts[parts.length - 1]));
      }
    }
    this.pos++;
    return parts.join('::');
  }

  /** `Z <function> E <entity>`: a name local to a function (a lambda, a static, a local class). */
  private local(skipping: boolean): string {
    this.pos++;
    const outer = this.name(skipping);
    while (this.peek() !== 'E') this.skipType();
    this.pos++;
    if (this.peek() === 's') return `${outer}::string literal`;
    // A default argument's scope: `d [number] _`.
    if (this.peek() === 'd' && (isDigit(this.text[this.pos + 1] ?? '') || this.text[this.pos + 1] === '_')) throw new Unsupported('default argument scope');
    return `${outer}::${this.name(skipping)}`;
  }

  private unqualified(scope: string | undefined): string {
    const c = this.peek();
    let name: string;
    if (isDigit(c)) {
      name = this.sourceName();
    } else if (c === 'L') {
      // Internal linkage (a static function), written before the name by some compilers.
      this.pos++;
      return this.unqualified(scope);
    } else if (c === 'C' && isOneOf(this.text[this.pos + 1] ?? '', '12345') && scope !== undefined) {
      this.pos += 2;
      name = baseName(scope);
    } else if (c === 'D' && isOneOf(this.text[this.pos + 1] ?? '', '01245') && scope !== undefined) {
      this.pos += 2;
      name = `~${baseName(scope)}`;
    } else if (this.startsWith('Ut')) {
      this.pos += 2;
      name = `{unnamed type#${this.discriminator()}}`;
    } else if (this.startsWith('Ul')) {
      this.pos += 2;
      while (this.peek() !== 'E') this.skipType();
      this.pos++;
      name = `{lambda#${this.discriminator()}}`;
    } else {
      name = this.operator();
    }
    // ABI tags ([abi:cxx11]) only tell builds of one name apart.
    while (this.peek() === 'B') {
      this.pos++;
      this.sourceName();
    }
    return name;
  }

  private operator(): string {
    const code = this.text.slice(this.pos, this.pos + 2);
    const symbol = OPERATORS[code];
    if (symbol === undefined) throw new Unsupported(code);
    this.pos += 2;
    return `operator${symbol}`;
  }

  /** `[number] _` numbering unnamed types and lambdas: absent is #1, n is #(n + 2). */
  private discriminator(): number {
    const n = isDigit(this.peek()) ? this.number() + 2 : 1;
    this.expect('_');
    return n;
  }

  private sourceName(): string {
    const length = this.number();
    const name = this.text.slice(this.pos, this.pos + length);
    if (name.length !== length) throw new Unsupported('source name past the end');
    this.pos += length;
    return name.startsWith('_GLOBAL__N') ? '(anonymous namespace)' : name;
  }

  /** `h <number> _` or `v <number> _ <number> _`, the adjustments of a thunk. */
  private callOffset(): void {
    const kind = this.peek();
    if (kind !== 'h' && kind !== 'v') throw new Unsupported('call offset');
    this.pos++;
    for (let i = kind === 'h' ? 1 : 2; i > 0; i--) {
      if (this.peek() === 'n') this.pos++;
      this.number();
      this.expect('_');
    }
  }

  private skipTemplateArgs(): void {
    this.expect('I');
    while (this.peek() !== 'E') this.skipTemplateArg();
    this.pos++;
  }

  private skipTemplateArg(): void {
    const c = this.peek();
    if (c === 'L') {
      this.pos++;
      if (this.startsWith('_Z')) throw new Unsupported('external name as template argument');
      this.skipType();
      while (this.peek() !== 'E') {
        if (this.peek() === END) throw new Unsupported('literal past the end');
        this.pos++;
      }
      this.pos++;
    } else if (c === 'J') {
      this.pos++;
      while (this.peek() !== 'E') this.skipTemplateArg();
      this.pos++;
    } else {
      this.skipType();
    }
  }

  private skipType(): void {
    const c = this.peek();
    const next = this.text[this.pos + 1] ?? '';
    if (BUILTIN_TYPES.has(c)) {
      this.pos++;
    } else if (isOneOf(c, 'rVKPROCG')) {
      this.pos++;
      this.skipType();
    } else if (c === 'D' && BUILTIN_D_TYPES.has(next)) {
      this.pos += 2;
    } else if (c === 'D' && next === 'p') {
      this.pos += 2;
      this.skipType();
    } else if (c === 'D' && (next === 'o' || next === 'x')) {
      // noexcept and transaction_safe, before a function type.
      this.pos += 2;
      this.skipType();
    } else if (c === 'F') {
      this.pos++;
      if (this.peek() === 'Y') this.pos++;
      while (this.peek() !== 'E') {
        if ((this.peek() === 'R' || this.peek() === 'O') && this.text[this.pos + 1] === 'E') this.pos++;
        else this.skipType();
      }
      this.pos++;
    } else if (c === 'A') {
      this.pos++;
      if (isDigit(this.peek())) this.number();
      this.expect('_');
      this.skipType();
    } else if (c === 'M') {
      this.pos++;
      this.skipType();
      this.skipType();
    } else if (c === 'T') {
      this.pos++;
      if (isDigit(this.peek())) this.number();
      this.expect('_');
      if (this.peek() === 'I') this.skipTemplateArgs();
    } else if (c === 'S') {
      this.skipSubstitution();
      if (this.peek() === 'I') this.skipTemplateArgs();
    } else if (c === 'N' || c === 'Z' || isDigit(c)) {
      this.name(true);
    } else if (c === 'u') {
      this.pos++;
      this.sourceName();
      if (this.peek() === 'I') this.skipTemplateArgs();
    } else if (c === 'U') {
      this.pos++;
      this.sourceName();
      if (this.peek() === 'I') this.skipTemplateArgs();
      this.skipType();
    } else {
      throw new Unsupported(`type ${c}${next}`);
    }
  }

  /** `St <unqualified-name>`, an abbreviation like `Sa`, or a back reference `S_`, `S<base-36>_`. */
  private skipSubstitution(): void {
    this.pos++;
    const c = this.peek();
    if (c === 't') {
      this.pos++;
      this.unqualified(undefined);
    } else if (isOneOf(c, 'absiod')) {
      this.pos++;
    } else {
      while (/[0-9A-Z]/.test(this.peek())) this.pos++;
      this.expect('_');
    }
  }

  private number(): number {
    const start = this.pos;
    while (isDigit(this.peek())) this.pos++;
    if (this.pos === start) throw new Unsupported('number');
    return Number(this.text.slice(start, this.pos));
  }

  private expect(c: string): void {
    if (this.peek() !== c) throw new Unsupported(`want ${c}`);
    this.pos++;
  }

  private startsWith(prefix: string): boolean {
    return this.text.startsWith(prefix, this.pos);
  }

  /** The next character; END past the last one, which no branch accepts, so a truncated symbol is Unsupported. */
  private peek(): string {
    return this.text[this.pos] ?? END;
  }
}

const END = '\0';

function isDigit(c: string): boolean {
  return c >= '0' && c <= '9';
}

function isOneOf(c: string, chars: string): boolean {
  return c.length === 1 && chars.includes(c);
}

/** What a constructor or destructor is called: its class's own name (`basic_string` for `std::basic_string`). */
function baseName(scope: string): string {
  return scope.slice(scope.lastIndexOf(':') + 1);
}
