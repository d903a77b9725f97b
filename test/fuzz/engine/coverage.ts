// Coverage feedback from istanbul's counters (see instrument-hooks.ts). After each execution
// every counter is read, bucketed by hit count as libFuzzer does (1, 2, 3, 4-7, 8-15, 16-31,
// 32-127, 128+), and zeroed; an input that reaches a (counter, bucket) pair never seen before
// is new coverage and joins the corpus.
import { COVERAGE_GLOBAL } from './instrument-hooks.js';

interface FileCoverage {
  s: Record<string, number>;
  f: Record<string, number>;
  b: Record<string, number[]>;
}

export interface CoverageFigures {
  statements: { covered: number; total: number };
  branches: { covered: number; total: number };
  functions: { covered: number; total: number };
  /** Distinct (counter, hit-count bucket) pairs seen: libFuzzer's "features". */
  features: number;
  files: string[];
}

type Kind = 'statements' | 'branches' | 'functions';

function bucket(count: number): number {
  if (count < 4) return count - 1;
  if (count < 8) return 3;
  if (count < 16) return 4;
  if (count < 32) return 5;
  if (count < 128) return 6;
  return 7;
}

export class Coverage {
  /** Each counter: the object holding it and its key. */
  private holders: Array<Record<string, number> | number[]> = [];
  private keys: Array<string | number> = [];
  private kinds: Kind[] = [];
  private seenFeatures = new Uint8Array(0);
  private everHit = new Uint8Array(0);
  private attachedFiles: string[] = [];
  private featureCount = 0;

  private get store(): Record<string, FileCoverage> {
    return ((globalThis as Record<string, unknown>)[COVERAGE_GLOBAL] ?? {}) as Record<string, FileCoverage>;
  }

  /** Picks up the counters of every instrumented module loaded so far. */
  attach(): void {
    for (const [file, data] of Object.entries(this.store)) {
      if (this.attachedFiles.includes(file)) continue;
      this.attachedFiles.push(file);
      for (const key of Object.keys(data.s)) this.add(data.s, key, 'statements');
      for (const key of Object.keys(data.f)) this.add(data.f, key, 'functions');
      for (const arms of Object.values(data.b)) for (let arm = 0; arm < arms.length; arm++) this.add(arms, arm, 'branches');
    }
    const grown = new Uint8Array(this.holders.length * 8);
    grown.set(this.seenFeatures);
    this.seenFeatures = grown;
    const hit = new Uint8Array(this.holders.length);
    hit.set(this.everHit);
    this.everHit = hit;
  }

  private add(holder: Record<string, number> | number[], key: string | number, kind: Kind): void {
    this.holders.push(holder);
    this.keys.push(key);
    this.kinds.push(kind);
  }

  /** Reads and zeroes every counter; returns how many new features the last execution reached. */
  collect(): number {
    let found = 0;
    const { holders, keys, seenFeatures, everHit } = this;
    for (let index = 0; index < holders.length; index++) {
      const holder = holders[index] as Record<string | number, number>;
      const key = keys[index]!;
      const count = holder[key]!;
      if (count === 0) continue;
      holder[key] = 0;
      everHit[index] = 1;
      const feature = index * 8 + bucket(count);
      if (seenFeatures[feature] === 0) {
        seenFeatures[feature] = 1;
        found++;
      }
    }
    this.featureCount += found;
    return found;
  }

  /** Zeroes the counters without counting them (after work that is not an execution). */
  reset(): void {
    for (let index = 0; index < this.holders.length; index++) (this.holders[index] as Record<string | number, number>)[this.keys[index]!] = 0;
  }

  figures(): CoverageFigures {
    const figures: CoverageFigures = {
      statements: { covered: 0, total: 0 },
      branches: { covered: 0, total: 0 },
      functions: { covered: 0, total: 0 },
      features: this.featureCount,
      files: [...this.attachedFiles],
    };
    for (let index = 0; index < this.holders.length; index++) {
      const figure = figures[this.kinds[index]!];
      figure.total++;
      figure.covered += this.everHit[index]!;
    }
    return figures;
  }
}
