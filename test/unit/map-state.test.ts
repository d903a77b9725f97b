// A worker's state is handed to JavaScript as a SharedArrayBuffer because V8 does not count
// shared memory as external memory; an ArrayBuffer of the same mapping is counted, and a large
// one forces a full GC in a worker with a small heap. Both claims are checked on V8's own counter.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import v8 from 'node:v8';
import { test } from 'uvu';
import * as native from '../../native/index.js';

const SIZE = 512 * 1024 * 1024;

function sparseFile(): number {
  const fd = native.memfdCreate('map-state-test', false);
  fs.ftruncateSync(fd, SIZE); // no page is touched: mapping it costs no memory
  return fd;
}

const external = (): number => v8.getHeapStatistics().external_memory;

test('mapState gives a read-only SharedArrayBuffer of the whole state that V8 does not count', () => {
  const fd = sparseFile();
  try {
    const before = external();
    const state = native.mapState(fd, SIZE, { populate: false });
    assert.ok(state instanceof SharedArrayBuffer);
    assert.equal(state.byteLength, SIZE);
    assert.equal(new DataView(state).getUint32(SIZE - 4), 0, 'the last bytes are readable');
    assert.ok(external() - before < SIZE / 16, `external memory grew by ${external() - before} bytes`);
  } finally {
    fs.closeSync(fd);
  }
});

test('the same mapping as an ArrayBuffer is counted (the cost mapState avoids)', () => {
  const fd = sparseFile();
  try {
    const before = external();
    const buffer = native.mmap(fd, SIZE, { writable: false, populate: false });
    assert.ok(external() - before >= SIZE, `external memory grew by only ${external() - before} bytes`);
    native.munmap(buffer);
  } finally {
    fs.closeSync(fd);
  }
});

test('mapState of length 0 and of a bad fd', () => {
  assert.equal(native.mapState(0, 0, { populate: false }).byteLength, 0);
  assert.throws(() => native.mapState(-1, 4096, { populate: false }), (error: NodeJS.ErrnoException) => error.code === 'EBADF');
});

test.run();
