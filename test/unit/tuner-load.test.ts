// The hearth policy's load figures on hand-made arrivals.
import assert from 'node:assert/strict';
import { test } from 'uvu';
import { ArrivalCrowding } from '../../agent/tuner/policies/hearth/load.js';

test('crowding: per n, the share of arrivals within the window of the n-th before them', () => {
  const crowding = new ArrivalCrowding(2, Infinity);
  assert.deepEqual(crowding.shares(), [0, 0], 'nothing seen');
  for (const at of [0, 5, 100, 102, 104]) crowding.record(at, 10);
  // n = 1: 5, 102 and 104 came within 10 ms of the one before; n = 2: only 104 (100 was 4 ms before it).
  assert.deepEqual(crowding.shares(), [3 / 5, 1 / 5]);
});

test('crowding: older arrivals weigh less, halving every half-life', () => {
  const crowding = new ArrivalCrowding(1, 1000);
  crowding.record(0, 10);
  crowding.record(5, 10);
  // 5 s later the crowded pair weighs 1/32 of an arrival each; a lone arrival then dominates.
  crowding.record(5005, 10);
  const [share] = crowding.shares();
  const pair = 2 ** (-5000 / 1000);
  assert.ok(Math.abs(share! - pair / (pair * (2 ** (-5 / 1000)) + pair + 1)) < 1e-12, String(share));
});

test.run();
