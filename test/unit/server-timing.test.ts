// Server-Timing durations are formatted by hand on the invoke path (toFixed costs about three
// times as much and runs four times per request); they must read exactly as toFixed(3) would.
import assert from 'node:assert/strict';
import { test } from 'uvu';
import { fixed3 } from '../../runtime/api/invoke.js';

test('fixed3 matches toFixed(3) for durations from 0 to minutes, and below 0', () => {
  const samples = [0, 0.0004, 0.0005, 0.001, 0.009, 0.01, 0.099, 0.1, 0.12345, 1, 2.5, 9.9999, 10.0001, 999.999, 123456.789, -0.001, -0.25, -3.14159];
  for (let i = 0; i < 20000; i++) samples.push(Math.random() * 10 ** ((i % 6) - 2));
  for (const ms of samples) {
    // toFixed rounds the exact binary value; a value within 1e-9 of a rounding edge may go either way.
    const edge = Math.abs(((ms * 1000) % 1) - 0.5) < 1e-6;
    if (!edge) assert.equal(fixed3(ms), ms.toFixed(3), `for ${ms}`);
  }
});

test.run();
