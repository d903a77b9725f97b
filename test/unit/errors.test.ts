// Every error code is documented in docs/errors.md, and every documented code exists.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'uvu';
import { ERROR_CODES, HearthError } from '../../shared/errors.js';

test('docs/errors.md and runtime/errors.ts list the same codes with the same statuses', () => {
  const doc = fs.readFileSync('docs/errors.md', 'utf8');
  const documented = new Map([...doc.matchAll(/^\| `(HEARTH_ERR_[A-Z_]+)` \| (\d{3}) \|/gm)].map((match) => [match[1]!, Number(match[2])]));
  const inCode = new Map(Object.entries(ERROR_CODES).map(([code, entry]) => [code, entry.status]));
  assert.deepEqual([...documented.keys()].sort(), [...inCode.keys()].sort());
  for (const [code, status] of inCode) assert.equal(documented.get(code), status, `${code} status`);
});

test('HearthError carries its code, status, details and cause, and serialises for the API', () => {
  const cause = new Error('underlying');
  const error = new HearthError('HEARTH_ERR_QUEUE_FULL', 'too many', { cause, details: { function: 'f', retryAfterSeconds: 1 } });
  assert.equal(error.status, 429);
  assert.equal(error.cause, cause);
  assert.deepEqual(error.toJSON(), { error: { code: 'HEARTH_ERR_QUEUE_FULL', message: 'too many', function: 'f', retryAfterSeconds: 1 } });
});

test.run();
