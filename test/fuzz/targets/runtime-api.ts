// The runtime HTTP API's input parsers, in-process: the invoke query, the events query, and
// the JSON bodies of deploy (PUT), configure (PATCH), tool profiles and follower
// acknowledgements. The first byte picks the parser. Documented outcome (README, "HTTP
// API"): the parsed request, or a HearthError with a 400 code whose message names the field.
import { parseAckBody, parseConfigurePatch, parseEventsQuery } from '../../../runtime/api/control.js';
import { parseTimeout } from '../../../runtime/api/invoke.js';
import { parseJsonBody } from '../../../runtime/api/respond.js';
import { parseFunction } from '../../../runtime/manifest/parse.js';
import { DEFAULT_POOL, FUNCTION_KINDS } from '../../../runtime/manifest/spec.js';
import { parseToolProfileRequest } from '../../../runtime/profile-tools/request.js';
import { HearthError } from '../../../shared/errors.js';
import { check, refusedWithCode, type FuzzTarget } from './target.js';

const PARSERS = ['invoke-query', 'events-query', 'deploy', 'configure', 'profile', 'ack'] as const;
const TIMEOUT_LIMIT = 30_000;

function parse(which: (typeof PARSERS)[number], text: string, kindByte: number): void {
  switch (which) {
    case 'invoke-query': {
      const timeout = parseTimeout(text, TIMEOUT_LIMIT);
      if (timeout instanceof HearthError) throw timeout;
      check(Number.isInteger(timeout) && timeout >= 1 && timeout <= TIMEOUT_LIMIT, `timeoutMs ${timeout} accepted`);
      return;
    }
    case 'events-query': {
      const query = parseEventsQuery(new URLSearchParams(text));
      if (query instanceof HearthError) throw query;
      check(Number.isSafeInteger(query.since) && query.since >= 0 && query.batchMs >= 0, `events query ${JSON.stringify(query)} accepted`);
      return;
    }
    case 'deploy': {
      const body = parseJsonBody(Buffer.from(text, 'utf8'));
      // As control.ts does: the path names the function unless the body does.
      const object = typeof body === 'object' && body !== null && !Array.isArray(body) ? { name: 'fuzzed', ...(body as Record<string, unknown>) } : body;
      parseFunction(object, { label: 'request body' });
      return;
    }
    case 'configure': {
      const patch = parseConfigurePatch(parseJsonBody(Buffer.from(text, 'utf8')), DEFAULT_POOL, FUNCTION_KINDS[kindByte % FUNCTION_KINDS.length]!);
      if (patch.pool !== undefined) check(patch.pool.min <= patch.pool.max, 'pool.min over pool.max accepted');
      return;
    }
    case 'profile':
      parseToolProfileRequest(parseJsonBody(Buffer.from(text, 'utf8')));
      return;
    case 'ack':
      parseAckBody(parseJsonBody(Buffer.from(text, 'utf8')));
      return;
  }
}

export const target: FuzzTarget = {
  maxLength: 16 * 1024,
  json: true,
  jsonPrefix: 2,
  dictionary: ['timeoutMs', 'since', 'follow', 'hold', 'batchMs', 'invocations', 'cold', 'all', '=', '&', '%', '%2F', '%ZZ', '+', 'name', 'kind', 'entry', 'args', 'state', 'pool', 'limits', 'gc', 'env', 'min', 'max', 'keepAliveMs', 'maxQueued', 'memoryMb', 'gogc', 'memoryLimitMb', 'maxOldSpaceMb', 'tool', 'seconds', 'load', 'share', 'dir', '0x', 'clinic-doctor', 'clinic-flame', 'seq', '/tmp', '__proto__'],
  seeds() {
    const seed = (which: (typeof PARSERS)[number], text: string, kind = 0): Buffer => Buffer.concat([Buffer.from([PARSERS.indexOf(which), kind]), Buffer.from(text, 'utf8')]);
    return [
      seed('invoke-query', 'timeoutMs=1500'),
      seed('events-query', 'since=12&follow=1&invocations=cold&batchMs=100&hold=1'),
      seed('deploy', JSON.stringify({ kind: 'node', entry: '/srv/fn/index.js', pool: { min: 0, max: 2 }, limits: { memoryMb: 128 }, env: { A: 'b' } })),
      seed('configure', JSON.stringify({ pool: { min: 1, max: 3, keepAliveMs: 1000 }, gc: { gogc: 50, memoryLimitMb: 64 } }), 0),
      seed('configure', JSON.stringify({ gc: { maxOldSpaceMb: 64 } }), 1),
      seed('profile', JSON.stringify({ tool: '0x', seconds: 5, load: 'ping', share: 0.5, dir: '/tmp/p' })),
      seed('ack', '{"seq": 42}'),
    ];
  },
  run(data) {
    if (data.length < 2) return 'ok';
    const which = PARSERS[data[0]! % PARSERS.length]!;
    try {
      parse(which, data.subarray(2).toString('utf8'), data[1]!);
      return 'ok';
    } catch (error) {
      return refusedWithCode(error, 'HEARTH_ERR_BAD_REQUEST', 'HEARTH_ERR_MANIFEST_INVALID');
    }
  },
};
