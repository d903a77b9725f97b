import type http from 'node:http';
import { exportProfile, PROFILE_FORMATS, type ProfileFormat } from '../profile/export/index.js';
import { toFlameFrame } from '../profile/export/grafana.js';
import type { ProfilePhase } from '../profile/model.js';
import type { Profiler } from '../profile/profiler.js';

export interface ProfilesContext {
  profiler(): Profiler | undefined;
  profilerError(): string | undefined;
}

type Reply = (status: number, value: unknown) => void;
type Fail = (status: number, message: string) => void;

/** Formats of GET /v1/profiles/{function}: the export formats, the model itself, and Grafana's frame. */
const FORMATS = ['json', 'grafana', ...PROFILE_FORMATS] as const;
type ApiFormat = (typeof FORMATS)[number];
const MAX_SECONDS = 24 * 3600;

/**
 * GET /v1/profiles: what is held per function and phase. GET /v1/profiles/{function}
 * ?phase=cold|steady&seconds=N&format=...: one profile (cold: every retained cold start;
 * steady: the last `seconds`, default 60). GET /v1/gc?seconds=N: the GC's CPU share.
 */
export function serveProfiles(context: ProfilesContext, url: URL, res: http.ServerResponse, json: Reply, fail: Fail): void {
  const profiler = context.profiler();
  if (url.pathname === '/v1/profiles') {
    if (profiler === undefined) return json(200, { profiling: false, reason: context.profilerError() ?? 'turned off (--no-profile)', profiles: [] });
    profiler.collect();
    return json(200, { profiling: true, rates: { cold: profiler.options.coldHz, steady: profiler.options.steadyHz, coldEvery: profiler.options.coldEvery, coldMaxPerSecond: profiler.options.coldMaxPerSecond }, profiles: profiler.summary() });
  }
  if (profiler === undefined) return fail(503, `CPU profiles are off: ${context.profilerError() ?? 'the agent runs with --no-profile'}`);
  const seconds = parseSeconds(url.searchParams.get('seconds'));
  if (typeof seconds === 'string') return fail(400, seconds);
  profiler.collect();
  if (url.pathname === '/v1/gc') return json(200, { seconds: seconds ?? 60, functions: profiler.gcShares(seconds ?? 60) });
  let fn: string;
  try {
    fn = decodeURIComponent(url.pathname.slice('/v1/profiles/'.length));
  } catch {
    // A URIError thrown here would escape the request handler and end the agent.
    return fail(400, `the function name in ${url.pathname} is not valid percent-encoding`);
  }
  const phase = url.searchParams.get('phase') ?? 'cold';
  if (phase !== 'cold' && phase !== 'steady') return fail(400, `phase must be cold or steady (got ${JSON.stringify(phase)})`);
  const format = url.searchParams.get('format') ?? 'json';
  if (!(FORMATS as readonly string[]).includes(format)) return fail(400, `format must be one of ${FORMATS.join(', ')} (got ${JSON.stringify(format)})`);
  const window = seconds ?? (phase === 'steady' ? 60 : undefined);
  const profile = profiler.profile(fn, phase as ProfilePhase, window === undefined ? {} : { sinceUnixMs: Date.now() - window * 1000 });
  if (profile.samples.length === 0) {
    const what = phase === 'cold' ? 'no cold-start samples' : `no steady-state samples in the last ${window} s`;
    return fail(404, `${what} of function ${JSON.stringify(fn)} (functions with samples: ${profiler.summary().map((entry) => `${entry.function}/${entry.phase}`).join(', ') || 'none yet'})`);
  }
  const chosen = format as ApiFormat;
  if (chosen === 'json') return json(200, profile);
  if (chosen === 'grafana') return json(200, toFlameFrame(profile));
  const exported = exportProfile(profile, chosen as ProfileFormat);
  const body = typeof exported.body === 'string' ? Buffer.from(exported.body) : exported.body;
  res.writeHead(200, {
    'content-type': exported.contentType,
    'content-length': body.length,
    'content-disposition': `attachment; filename="${fn.replace(/[^\w.-]/g, '_')}-${phase}.${exported.extension}"`,
  });
  res.end(body);
}

function parseSeconds(raw: string | null): number | undefined | string {
  if (raw === null) return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0 || value > MAX_SECONDS) return `seconds must be a number from 0 to ${MAX_SECONDS} (got ${JSON.stringify(raw)})`;
  return value;
}
