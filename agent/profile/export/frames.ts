// What every export format needs of a frame: the label a person reads, and identities for
// merging frames (per function, or per exact place) into the tables the formats are built of.
import path from 'node:path';
import type { Frame } from '../model.js';

/** A module that says nothing about where the code is: not worth repeating in a label. */
const NO_MODULE = '[unknown]';

/**
 * The frame's name, and for a frame that could not be symbolised the module it is in
 * (`[unknown] (libfoo.so)`): without it every unknown frame would read the same.
 */
export function frameLabel(frame: Frame): string {
  if (frame.kind !== 'unknown' || frame.module === NO_MODULE) return frame.name;
  return `${frame.name} (${path.basename(frame.module)})`;
}

/** The same function in the same module: what a flame graph draws as one box. */
export function functionKey(frame: Frame): string {
  return JSON.stringify([frame.name, frame.module, frame.kind, frame.file ?? '']);
}

/** The same function at the same line: what pprof calls a location and speedscope a frame. */
export function placeKey(frame: Frame): string {
  return JSON.stringify([frame.name, frame.module, frame.kind, frame.file ?? '', frame.line ?? 0]);
}

/** Orders strings by UTF-16 code units, like Array.prototype.sort: the same on every host, unlike localeCompare. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Rows added once per key, numbered from 0 in the order they were first seen. */
export class InternTable<T> {
  readonly rows: T[] = [];
  private readonly indexes = new Map<string, number>();

  /** The row's index; `make` builds it (knowing its index) the first time `key` is seen. */
  indexOf(key: string, make: (index: number) => T): number {
    let index = this.indexes.get(key);
    if (index === undefined) {
      index = this.rows.length;
      this.rows.push(make(index));
      this.indexes.set(key, index);
    }
    return index;
  }
}
