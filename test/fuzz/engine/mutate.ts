// Input mutation, after libFuzzer's MutationDispatcher: byte and integer edits, repeats,
// copies within an input, crossover with another corpus entry, and dictionary words; plus,
// for targets whose inputs are JSON, edits of the parsed document (a value replaced, a key
// added or dropped, a node wrapped or copied), so that a validator sees well-formed documents
// with wrong fields and not only syntax errors.

/** xoshiro128**: fast, seedable, good enough to pick mutations. */
export class Random {
  private readonly s = new Uint32Array(4);
  constructor(seed: number) {
    // splitmix32 spreads one seed over the four words of state.
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }
  next32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
    const t = s[1]! << 9;
    s[2] = s[2]! ^ s[0]!;
    s[3] = s[3]! ^ s[1]!;
    s[1] = s[1]! ^ s[2]!;
    s[0] = s[0]! ^ s[3]!;
    s[2] = s[2]! ^ t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }
  /** An integer in [0, n). */
  below(n: number): number {
    return n <= 1 ? 0 : this.next32() % n;
  }
  chance(p: number): boolean {
    return this.next32() / 0x1_0000_0000 < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)]!;
  }
}

const INTERESTING_8 = [0, 1, 0x7f, 0x80, 0xff, 0x10, 0x20, 0x40, 0x0a, 0x00];
const INTERESTING_32 = [0, 1, 2, 7, 8, 15, 16, 17, 255, 256, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff, 64 * 1024 * 1024, 64 * 1024 * 1024 + 1];
const JSON_VALUES: unknown[] = [0, -1, 1, 1.5, -0.5, 1e308, -1e308, 2 ** 53, 2 ** 53 + 2, 4294967296, '', ' ', '\u0000', 'a', '..', '/', '%', '\ud800', 'x'.repeat(300), true, false, null, [], {}, [[]], { '': {} }];

export interface MutatorOptions {
  maxLength: number;
  dictionary: readonly string[];
  /** Inputs are JSON documents: half the mutations edit the parsed document. */
  json: boolean;
  /** Bytes before the document (a target's selector) that JSON edits leave alone. */
  jsonPrefix: number;
}

export class Mutator {
  private readonly words: Buffer[];
  constructor(
    private readonly random: Random,
    private readonly options: MutatorOptions,
  ) {
    this.words = options.dictionary.map((word) => Buffer.from(word, 'latin1'));
  }

  /** A child of `parent`: one to five stacked edits, at most maxLength bytes. */
  mutate(parent: Buffer, other: () => Buffer): Buffer {
    let data = parent;
    if (this.options.json && this.random.chance(0.5)) {
      const edited = this.tryEditJson(data, other);
      if (edited !== undefined) return edited.length <= this.options.maxLength ? edited : edited.subarray(0, this.options.maxLength);
    }
    const rounds = 1 + this.random.below(5);
    for (let round = 0; round < rounds; round++) data = this.once(data, other);
    return data.length <= this.options.maxLength ? data : data.subarray(0, this.options.maxLength);
  }

  private once(data: Buffer, other: () => Buffer): Buffer {
    const r = this.random;
    switch (r.below(data.length === 0 ? 3 : 13)) {
      case 0: // insert a byte
        return splice(data, r.below(data.length + 1), 0, Buffer.from([r.below(256)]));
      case 1: // insert a dictionary word
        return this.words.length === 0 ? splice(data, r.below(data.length + 1), 0, Buffer.from([r.pick(INTERESTING_8)])) : splice(data, r.below(data.length + 1), 0, r.pick(this.words));
      case 2: { // insert a run of one byte
        const run = Buffer.alloc(1 + r.below(r.chance(0.1) ? this.options.maxLength : 64), r.chance(0.5) ? r.pick(INTERESTING_8) : r.below(256));
        return splice(data, r.below(data.length + 1), 0, run);
      }
      case 3: { // erase bytes
        const at = r.below(data.length);
        return splice(data, at, 1 + r.below(Math.min(32, data.length - at)), Buffer.alloc(0));
      }
      case 4: { // change a byte
        const copy = Buffer.from(data);
        copy[r.below(copy.length)] = r.below(256);
        return copy;
      }
      case 5: { // flip a bit
        const copy = Buffer.from(data);
        const at = r.below(copy.length);
        copy[at] = copy[at]! ^ (1 << r.below(8));
        return copy;
      }
      case 6: { // an interesting byte
        const copy = Buffer.from(data);
        copy[r.below(copy.length)] = r.pick(INTERESTING_8);
        return copy;
      }
      case 7: // an integer, little- or big-endian, set or nudged
        return this.integer(data);
      case 8: { // copy a part of the input elsewhere in it
        const from = r.below(data.length);
        const part = data.subarray(from, from + 1 + r.below(Math.min(64, data.length - from)));
        return r.chance(0.5) ? splice(data, r.below(data.length + 1), 0, part) : overwrite(data, r.below(data.length), part);
      }
      case 9: { // crossover with another corpus entry
        const mate = other();
        if (mate.length === 0) return data;
        const from = r.below(mate.length);
        const part = mate.subarray(from, from + 1 + r.below(mate.length - from));
        return r.chance(0.5) ? splice(data, r.below(data.length + 1), 0, part) : Buffer.concat([data.subarray(0, r.below(data.length + 1)), part]);
      }
      case 10: // overwrite with a dictionary word
        return this.words.length === 0 ? data : overwrite(data, r.below(data.length), r.pick(this.words));
      case 11: { // change an ASCII number
        const text = data.toString('latin1');
        const numbers = [...text.matchAll(/-?\d+/g)];
        if (numbers.length === 0) return data;
        const match = r.pick(numbers);
        const value = r.pick([0, -1, 1, Number(match[0]) + 1, Number(match[0]) - 1, Number(match[0]) * 2, 2 ** 31, 2 ** 32, 2 ** 53, 1e21]);
        return splice(data, match.index!, match[0].length, Buffer.from(String(value), 'latin1'));
      }
      default: { // truncate
        return data.subarray(0, r.below(data.length + 1));
      }
    }
  }

  private integer(data: Buffer): Buffer {
    const r = this.random;
    const width = r.pick([2, 4, 8]);
    if (data.length < width) return data;
    const copy = Buffer.from(data);
    const at = r.below(copy.length - width + 1);
    const little = r.chance(0.75);
    let current = 0n;
    for (let i = width - 1; i >= 0; i--) current = (current << 8n) | BigInt(copy[little ? at + i : at + width - 1 - i]!);
    let value = r.chance(0.5) ? BigInt(r.pick(INTERESTING_32)) : current + BigInt(r.below(33) - 16);
    const mask = (1n << BigInt(width * 8)) - 1n;
    value &= mask;
    for (let i = 0; i < width; i++) {
      const byte = Number((value >> BigInt(8 * i)) & 0xffn);
      copy[little ? at + i : at + width - 1 - i] = byte;
    }
    return copy;
  }

  /** An edited document, or undefined when the input is no JSON or too deep to edit (the byte mutations then have this round). */
  private tryEditJson(data: Buffer, other: () => Buffer): Buffer | undefined {
    const prefix = this.options.jsonPrefix;
    if (data.length < prefix) return undefined;
    try {
      const edited = this.editJson(data.subarray(prefix), other);
      return edited === undefined ? undefined : Buffer.concat([data.subarray(0, prefix), edited]);
    } catch (error) {
      if (error instanceof RangeError) return undefined;
      throw error;
    }
  }

  private editJson(data: Buffer, other: () => Buffer): Buffer | undefined {
    let doc: unknown;
    try {
      doc = JSON.parse(data.toString('utf8'));
    } catch {
      return undefined;
    }
    const r = this.random;
    const nodes: Array<{ parent: Record<string, unknown> | unknown[]; key: string | number }> = [];
    const walk = (value: unknown, depth: number): void => {
      if (depth > 64 || typeof value !== 'object' || value === null) return;
      if (Array.isArray(value)) value.forEach((item, index) => (nodes.push({ parent: value, key: index }), walk(item, depth + 1)));
      else for (const [key, item] of Object.entries(value)) nodes.push({ parent: value as Record<string, unknown>, key }), walk(item, depth + 1);
    };
    const root = { root: doc };
    nodes.push({ parent: root, key: 'root' });
    walk(doc, 0);
    const node = r.pick(nodes);
    const parent = node.parent as Record<string | number, unknown>;
    switch (r.below(7)) {
      case 0:
        parent[node.key] = this.randomValue(other);
        break;
      case 1:
        if (Array.isArray(parent)) parent.splice(node.key as number, 1);
        else if (parent !== root) delete parent[node.key];
        break;
      case 2: {
        const target = parent[node.key];
        if (typeof target === 'object' && target !== null && !Array.isArray(target)) {
          setKey(target as Record<string, unknown>, this.words.length > 0 && r.chance(0.8) ? r.pick(this.options.dictionary) : 'x', this.randomValue(other));
        } else if (Array.isArray(target)) {
          target.push(r.chance(0.5) && target.length > 0 ? structuredClone(r.pick(target)) : this.randomValue(other));
        } else {
          parent[node.key] = this.randomValue(other);
        }
        break;
      }
      case 3: { // wrap in arrays or objects, sometimes deeper than a recursive serialiser can go
        const value = parent[node.key];
        if (r.chance(0.9)) {
          let wrapped = value;
          const key = this.words.length > 0 ? r.pick(this.options.dictionary) : 'x';
          for (let depth = 1 + r.below(4); depth > 0; depth--) wrapped = r.chance(0.5) ? [wrapped] : setKey({}, key, wrapped);
          parent[node.key] = wrapped;
          break;
        }
        // Written as text: JSON.stringify itself would overflow the stack on it.
        parent[node.key] = DEEP;
        const depth = 1 + r.below(this.options.maxLength / 2);
        const text = JSON.stringify(root.root)?.replace(JSON.stringify(DEEP), () => `${'['.repeat(depth)}${JSON.stringify(value) ?? 'null'}${']'.repeat(depth)}`);
        return text === undefined ? undefined : Buffer.from(text, 'utf8');
      }
      case 4: { // a copy of another node
        const source = r.pick(nodes);
        parent[node.key] = structuredClone((source.parent as Record<string | number, unknown>)[source.key] ?? null);
        break;
      }
      case 5: { // rename a key
        if (Array.isArray(parent) || parent === root || this.words.length === 0) return undefined;
        const value = parent[node.key];
        delete parent[node.key];
        setKey(parent, r.pick(this.options.dictionary), value);
        break;
      }
      default: { // a number nudged
        const value = parent[node.key];
        parent[node.key] = typeof value === 'number' ? value + r.pick([-1, 1, 0.5, -1024, 1024]) : this.randomValue(other);
      }
    }
    const text = JSON.stringify(root.root);
    return text === undefined ? undefined : Buffer.from(text, 'utf8');
  }

  private randomValue(other: () => Buffer): unknown {
    const r = this.random;
    if (r.chance(0.15)) {
      try {
        return JSON.parse(other().toString('utf8'));
      } catch {
        // not JSON: fall through
      }
    }
    if (this.words.length > 0 && r.chance(0.3)) return r.pick(this.options.dictionary);
    return structuredClone(r.pick(JSON_VALUES));
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** Sets an own property, even one named __proto__ (as JSON.parse would). */
function setKey(object: Record<string, unknown>, key: string, value: unknown): Record<string, unknown> {
  Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
  return object;
}

/** Stands for a deep nest of arrays until the document is written out. */
const DEEP = '\u0000hearth-fuzz-deep\u0000';

function splice(data: Buffer, at: number, remove: number, insert: Buffer): Buffer {
  return Buffer.concat([data.subarray(0, at), insert, data.subarray(at + remove)]);
}

function overwrite(data: Buffer, at: number, part: Buffer): Buffer {
  const copy = Buffer.from(data);
  part.copy(copy, at, 0, Math.min(part.length, copy.length - at));
  return copy;
}
