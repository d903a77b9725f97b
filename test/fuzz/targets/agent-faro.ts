// The agent's Faro payload validator (agent/exporters/faro-payload.ts), in-process: the JSON
// body of POST /collect. Documented outcome: a payload whose items have the fields the agent
// reads (strings where it prints them, finite numbers in measurements), or a message naming
// what is wrong (the 400 answer).
import { FARO_SIGNALS, parseFaroPayload } from '../../../agent/exporters/faro-payload.js';
import { check, ContractViolation, type FuzzTarget } from './target.js';

export const target: FuzzTarget = {
  maxLength: 16 * 1024,
  json: true,
  dictionary: ['meta', 'logs', 'exceptions', 'measurements', 'events', 'traces', 'resourceSpans', 'level', 'message', 'timestamp', 'type', 'value', 'values', 'name', 'attributes', 'app', 'session', '__proto__', 'length'],
  seeds() {
    const ts = '2026-01-01T00:00:00Z';
    return [
      Buffer.from(JSON.stringify({ meta: { app: { name: 'hearth-ui' } }, logs: [{ level: 'info', message: 'm', timestamp: ts }], exceptions: [{ type: 'E', value: 'v', timestamp: ts }], measurements: [{ type: 'web-vitals', values: { lcp: 1.5 }, timestamp: ts }], events: [{ name: 'n', attributes: { a: 'b' }, timestamp: ts }], traces: { resourceSpans: [{}] } })),
      Buffer.from('{"meta":{}}'),
    ];
  },
  run(data) {
    let body: unknown;
    try {
      body = JSON.parse(data.toString('utf8'));
    } catch {
      return 'refused'; // the collector's bad_json answer; JSON.parse is not under test here
    }
    const payload = parseFaroPayload(body);
    if (typeof payload === 'string') {
      if (payload.trim() === '') throw new ContractViolation('refused without a reason');
      return 'refused';
    }
    // What FaroCollector.accept reads must be what the validator promised.
    for (const signal of FARO_SIGNALS) check(Array.isArray(payload[signal]), `${signal} is not an array`);
    for (const exception of payload.exceptions) check(typeof exception.type === 'string' && typeof exception.value === 'string', 'an exception without type and value strings');
    for (const item of payload.measurements) check(typeof item.type === 'string' && Object.values(item.values).every(Number.isFinite), 'a measurement with a non-finite value');
    for (const event of payload.events) check(typeof event.name === 'string', 'an event without a name');
    check(Array.isArray(payload.traces), 'traces is not an array');
    return 'ok';
  },
};
