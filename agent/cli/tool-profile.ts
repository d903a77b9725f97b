// `hearth profile FUNCTION --with 0x|clinic-doctor|clinic-flame`: asks the runtime for a
// profiling run with one of Node's tools, shows its progress, copies its files, and turns
// 0x's ticks into Hearth's profile model so they export like the agent's own profiles.
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { DEFAULT_RUNTIME_PORT, resolveToken } from '../../shared/local.js';
import { HearthError, errorFrom } from '../../shared/errors.js';
import { ndjsonLines } from '../../shared/ndjson.js';
import { PROFILE_TOOLS, TOOL_PROFILE_SECONDS, type ProfileToolName, type ToolProfileRequest, type ToolProfileRun } from '../../shared/tool-profiles.js';
import { exportProfile, PROFILE_FORMATS, type ProfileFormat } from '../profile/export/index.js';
import { profileFromTicks, type TickFrame } from '../profile/zerox-ticks.js';

export const TOOL_PROFILE_OPTIONS = {
  with: { type: 'string' },
  load: { type: 'string' },
  share: { type: 'string' },
  runtime: { type: 'string' },
  token: { type: 'string' },
} as const;

/** Formats a 0x run's converted profile can be written in besides the model itself (profile.json). */
const CONVERTED_FORMATS = ['json', ...PROFILE_FORMATS] as const;
type ConvertedFormat = (typeof CONVERTED_FORMATS)[number];
/** Options of the agent's own profiles that mean nothing to a run with a tool. */
const AGENT_ONLY_OPTIONS = ['cold', 'steady', 'gc', 'agent'];

export const TOOL_PROFILE_HELP = `With a tool (Node functions): the runtime starts one more worker of the function, with
the same code and state, under 0x or clinic, beside its pool; that worker gets a share of the
function's invocations for --seconds, then answers what it holds and exits (no request
fails), and the tool's own processing builds its report. Every file is copied to -o DIR.

  --with TOOL        0x (V8's tick profiler and 0x's flamegraph; the ticks are also converted
                     into DIR/profile.json, Hearth's model), clinic-doctor (event-loop delay,
                     CPU, memory and handles, with doctor's diagnosis) or clinic-flame
  --seconds N        how long the worker is profiled, ${TOOL_PROFILE_SECONDS.min} to ${TOOL_PROFILE_SECONDS.max} (required)
  --load BODY        a request body sent to the profiled worker again and again while the
                     function has no traffic of its own
  --share F          the fraction of the function's invocations offered to the profiled worker
                     (default: its fair share, 1 / (ready workers + 1))
  -o, --output DIR   where the files go (default ./RUN-ID.TOOL)
  --format F         0x: also write DIR/profile.EXT in pprof, folded, speedscope or html
  --runtime URL      the runtime (default $HEARTH_URL or http://127.0.0.1:${DEFAULT_RUNTIME_PORT})
  --token TOKEN      its control token (default $HEARTH_TOKEN, else the local runtime's token file)`;

/** Runs `hearth profile FUNCTION --with TOOL`; returns the exit code. */
export async function profileWithTool(values: Record<string, unknown>, positionals: string[]): Promise<number> {
  const fn = positionals[0];
  if (fn === undefined || positionals.length > 1) throw badFlag(`--with profiles one function: hearth profile FUNCTION --with TOOL --seconds N (got ${positionals.length} names)`);
  const misplaced = AGENT_ONLY_OPTIONS.filter((name) => values[name] !== undefined);
  if (misplaced.length > 0) throw badFlag(`--${misplaced[0]} is about the agent's own profiles; it does not go with --with`);
  const request = toolRequest(values);
  const format = values['format'] as string | undefined;
  if (format !== undefined && request.tool !== '0x') throw badFlag(`--format converts 0x's ticks; ${request.tool} makes an HTML report only`);
  if (format !== undefined && !(CONVERTED_FORMATS as readonly string[]).includes(format)) throw badFlag(`--format must be one of ${CONVERTED_FORMATS.join(', ')} (got ${JSON.stringify(format)})`);
  const runtime = new RuntimeConnection(values);
  const run = await runtime.profile(fn, request, progressPrinter(fn));
  const dir = path.resolve((values['output'] as string | undefined) ?? `${run.id}.${run.tool}`);
  for (const file of run.files) await runtime.download(run.id, file.name, path.join(dir, file.name));
  const { routed, generated, failed } = run.invocations;
  process.stdout.write(`${run.tool} profiled worker ${run.pid} of ${fn} for ${(run.durationMs / 1000).toFixed(1)} s: ${routed} of its invocations, ${generated} generated, ${failed} failed\n`);
  process.stdout.write(`${run.files.length} files in ${dir}; open ${path.join(dir, run.report ?? '')}\n`);
  if (run.ticks !== undefined) {
    for (const written of writeConvertedProfile(run, dir, format as ConvertedFormat | undefined)) process.stdout.write(`wrote ${written}\n`);
  }
  return 0;
}

function toolRequest(values: Record<string, unknown>): ToolProfileRequest {
  const tool = values['with'] as string;
  if (!(PROFILE_TOOLS as readonly string[]).includes(tool)) throw badFlag(`--with must be one of ${PROFILE_TOOLS.join(', ')} (got ${JSON.stringify(tool)})`);
  const secondsText = values['seconds'] as string | undefined;
  const seconds = Number(secondsText);
  if (secondsText === undefined || !/^\d+$/.test(secondsText) || seconds < TOOL_PROFILE_SECONDS.min || seconds > TOOL_PROFILE_SECONDS.max) {
    throw badFlag(`--seconds must be a whole number from ${TOOL_PROFILE_SECONDS.min} to ${TOOL_PROFILE_SECONDS.max} with --with (got ${JSON.stringify(secondsText ?? null)})`);
  }
  const request: ToolProfileRequest = { tool: tool as ProfileToolName, seconds };
  if (values['load'] !== undefined) request.load = values['load'] as string;
  if (values['share'] !== undefined) {
    const share = Number(values['share']);
    if (!(share > 0 && share <= 1)) throw badFlag(`--share must be a number above 0 and at most 1 (got ${JSON.stringify(values['share'])})`);
    request.share = share;
  }
  return request;
}

/** DIR/profile.json (the model), and DIR/profile.EXT in the asked format; returns what it wrote. */
function writeConvertedProfile(run: ToolProfileRun, dir: string, format: ConvertedFormat | undefined): string[] {
  const ticks = JSON.parse(fs.readFileSync(path.join(dir, run.ticks!.file), 'utf8')) as TickFrame[][];
  const profile = profileFromTicks(ticks, { function: run.function, pid: run.pid, hz: run.ticks!.hz, startUnixMs: run.startUnixMs, durationMs: run.durationMs });
  const model = path.join(dir, 'profile.json');
  fs.writeFileSync(model, JSON.stringify(profile));
  if (format === undefined || format === 'json') return [model];
  const exported = exportProfile(profile, format as ProfileFormat);
  const file = path.join(dir, `profile.${exported.extension}`);
  fs.writeFileSync(file, exported.body);
  return [model, file];
}

/** Progress lines on stderr; on a terminal the countdown rewrites one line. */
function progressPrinter(fn: string): (message: string) => void {
  let overwriting = false;
  return (message) => {
    const countdown = process.stderr.isTTY && / s left;/.test(message);
    process.stderr.write(`${countdown ? '\r' : overwriting ? '\n' : ''}${fn}: ${message}${countdown ? '\x1b[K' : '\n'}`);
    overwriting = countdown;
  };
}

function badFlag(message: string): HearthError {
  return new HearthError('HEARTH_ERR_BAD_REQUEST', message);
}

/** The runtime's control API, as far as profiling runs need it. */
class RuntimeConnection {
  private readonly url: string;
  private readonly token: string;

  constructor(values: Record<string, unknown>) {
    this.url = ((values['runtime'] as string | undefined) ?? process.env['HEARTH_URL'] ?? `http://127.0.0.1:${DEFAULT_RUNTIME_PORT}`).replace(/\/$/, '');
    try {
      this.token = resolveToken(this.url, values['token'] as string | undefined);
    } catch (error) {
      throw new HearthError('HEARTH_ERR_UNAUTHORIZED', (error as Error).message);
    }
  }

  /** Starts a run and follows its progress to the end: the finished run, or its error. */
  async profile(fn: string, request: ToolProfileRequest, progress: (message: string) => void): Promise<ToolProfileRun> {
    const response = await this.fetch(`/v1/functions/${encodeURIComponent(fn)}/profile`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/x-ndjson' },
      body: JSON.stringify(request),
    });
    for await (const line of ndjsonLines(response.body)) {
      const message = JSON.parse(line) as { progress?: string; result?: ToolProfileRun };
      if (message.progress !== undefined) progress(message.progress);
      else if (message.result !== undefined) return message.result;
      else throw errorFrom(message, response.status);
    }
    throw new HearthError('HEARTH_ERR_UNAVAILABLE', `the runtime at ${this.url} closed the profiling run's stream before the run ended`);
  }

  /** Copies one of a run's files to `target`. */
  async download(id: string, name: string, target: string): Promise<void> {
    const response = await this.fetch(`/v1/tool-profiles/${encodeURIComponent(id)}/${encodeURIComponent(name)}`, {});
    fs.mkdirSync(path.dirname(target), { recursive: true });
    await pipeline(Readable.fromWeb(response.body! as WebReadableStream), fs.createWriteStream(target));
  }

  private async fetch(route: string, init: RequestInit): Promise<Response> {
    let response: Response;
    try {
      response = await fetch(`${this.url}${route}`, { ...init, headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${this.token}` } });
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause;
      throw new HearthError('HEARTH_ERR_UNAVAILABLE', `cannot reach the runtime at ${this.url}: ${cause?.code ?? (error as Error).message} (is \`hearth serve\` running?)`);
    }
    if (!response.ok) throw errorFrom(await response.json().catch(() => ({})), response.status);
    return response;
  }
}
