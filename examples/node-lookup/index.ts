// A Node/TypeScript function over the same 1 GiB lookup table as examples/go-lookup:
// fixed 64-byte records, record i at offset i*64, its first 8 bytes = i (little-endian).
// The state is a zero-copy view of the shared mapping; nothing is loaded or parsed at start.
import { state, type Handler } from 'hearth/sdk';

const RECORD = 64;

export const handler: Handler = (request) => {
  const table = state();
  if (table === undefined) throw new Error('this function needs the lookup table as its state');
  const view = new DataView(table);
  const records = Math.floor(table.byteLength / RECORD);
  const text = request.toString('utf8').trim();
  const key = text.startsWith('{') ? Number((JSON.parse(text) as { key?: unknown }).key) : Number(text);
  if (!Number.isSafeInteger(key) || key < 0 || key >= records) throw new RangeError(`key ${text} out of range (0..${records - 1})`);
  const offset = key * RECORD;
  if (view.getBigUint64(offset, true) !== BigInt(key)) throw new Error(`state corrupt at record ${key}`);
  return { key, value: Buffer.from(table, offset + 8, RECORD - 8).toString('hex') };
};
