// The body that Grafana Faro's web SDK POSTs to a collector (its TransportBody in
// @grafana/faro-core): `meta` about the page and session, then arrays of signals. Checked
// here field by field, so that a bad payload is refused with a message that names the field.

/** The signal arrays of a payload, as counted in hearth_agent_faro_items_total{kind}. */
export const FARO_SIGNALS = ['logs', 'exceptions', 'measurements', 'events'] as const;
export type FaroSignal = (typeof FARO_SIGNALS)[number];

export interface FaroLog {
  level: string;
  message: string;
}

export interface FaroException {
  type: string;
  value: string;
}

export interface FaroMeasurement {
  type: string;
  values: Record<string, number>;
}

export interface FaroEvent {
  name: string;
  attributes?: Record<string, string>;
}

export interface FaroPayload {
  meta: Record<string, unknown>;
  logs: FaroLog[];
  exceptions: FaroException[];
  measurements: FaroMeasurement[];
  events: FaroEvent[];
  /** OpenTelemetry spans (`traces.resourceSpans`), kept as they came. */
  traces: unknown[];
}

type Check = (item: Record<string, unknown>, at: string) => string | undefined;

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function needString(item: Record<string, unknown>, at: string, ...fields: string[]): string | undefined {
  const missing = fields.find((field) => typeof item[field] !== 'string');
  return missing === undefined ? undefined : `${at}.${missing} must be a string`;
}

function needRecordOf(value: unknown, at: string, type: 'string' | 'number'): string | undefined {
  if (!isObject(value)) return `${at} must be an object`;
  const bad = Object.entries(value).find(([, entry]) => typeof entry !== type || (type === 'number' && !Number.isFinite(entry)));
  return bad === undefined ? undefined : `${at}.${bad[0]} must be a ${type === 'number' ? 'finite number' : 'string'}`;
}

/** What each signal's items must have (more is allowed: newer SDKs add fields). */
const CHECKS: Record<FaroSignal, Check> = {
  logs: (item, at) => needString(item, at, 'level', 'message', 'timestamp'),
  exceptions: (item, at) => needString(item, at, 'type', 'value', 'timestamp'),
  measurements: (item, at) => needString(item, at, 'type', 'timestamp') ?? needRecordOf(item['values'], `${at}.values`, 'number'),
  events: (item, at) => needString(item, at, 'name', 'timestamp') ?? (item['attributes'] === undefined ? undefined : needRecordOf(item['attributes'], `${at}.attributes`, 'string')),
};

/** A Faro payload from parsed JSON, or what is wrong with it (for a 400 answer). */
export function parseFaroPayload(body: unknown): FaroPayload | string {
  if (!isObject(body)) return 'the body must be a JSON object with `meta` and arrays of logs, exceptions, measurements or events';
  if (!isObject(body['meta'])) return '`meta` must be an object';
  const payload: FaroPayload = { meta: body['meta'], logs: [], exceptions: [], measurements: [], events: [], traces: [] };
  for (const signal of FARO_SIGNALS) {
    const items = body[signal];
    if (items === undefined) continue;
    if (!Array.isArray(items)) return `\`${signal}\` must be an array`;
    for (const [index, item] of items.entries()) {
      const at = `${signal}[${index}]`;
      const problem = isObject(item) ? CHECKS[signal](item, at) : `${at} must be an object`;
      if (problem !== undefined) return problem;
    }
    (payload[signal] as unknown[]) = items;
  }
  const traces = body['traces'];
  if (traces !== undefined) {
    if (!isObject(traces) || !Array.isArray(traces['resourceSpans'])) return '`traces` must be an object with a `resourceSpans` array';
    payload.traces = traces['resourceSpans'];
  }
  return payload;
}
