import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findGo } from '../runtime/build/go.js';

/** The examples folder of the source tree (this file compiles to dist/examples/). */
export const EXAMPLES_DIR = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../../examples');
export const LOOKUP_STATE = path.join(EXAMPLES_DIR, '.cache', 'lookup-1g.bin');
export const GIB = 1024 ** 3;
const RECORD = 64;

/**
 * Makes sure the lookup table exists at `file` with `size` bytes, generating it once with
 * examples/go-lookup/gen (deterministic: every generation is byte-identical). Checks the
 * size and the first and last records' keys, so a torn or foreign file is regenerated.
 */
export async function ensureLookupState(file = LOOKUP_STATE, size = GIB, log: (line: string) => void = () => undefined): Promise<string> {
  if (isLookupTable(file, size)) return file;
  const go = findGo();
  if (go === undefined) throw new Error('generating the example state needs the go tool');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  log(`generating ${(size / 1048576).toFixed(0)} MiB of example state at ${file} (once)`);
  await new Promise<void>((resolve, reject) => {
    execFile(go, ['run', './gen', '-o', file, '-size', String(size)], { cwd: path.join(EXAMPLES_DIR, 'go-lookup'), maxBuffer: 1 << 24 }, (error, _out, stderr) => {
      if (error === null) resolve();
      else reject(new Error(`generating ${file} failed: ${stderr.trim() || error.message}`));
    });
  });
  if (!isLookupTable(file, size)) throw new Error(`${file} does not look like a lookup table after generation`);
  return file;
}

function isLookupTable(file: string, size: number): boolean {
  try {
    if (fs.statSync(file).size !== size) return false;
    const fd = fs.openSync(file, 'r');
    try {
      const record = Buffer.alloc(8);
      fs.readSync(fd, record, 0, 8, 0);
      if (record.readBigUInt64LE(0) !== 0n) return false;
      const last = size / RECORD - 1;
      fs.readSync(fd, record, 0, 8, last * RECORD);
      return record.readBigUInt64LE(0) === BigInt(last);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return false;
  }
}
