import fs from 'node:fs';
import { table, type Command } from '../../shared/command.js';
import { HearthError } from '../../shared/errors.js';
import type { GcShare } from '../profile/gc-share.js';
import type { ProfileSummary } from '../profile/store.js';
import { AGENT_OPTION_HELP, agentBase, agentGet, agentJson } from './agent-api.js';
import { TOOL_PROFILE_HELP, TOOL_PROFILE_OPTIONS, profileWithTool } from './tool-profile.js';

const options = {
  agent: { type: 'string' },
  cold: { type: 'boolean' },
  steady: { type: 'boolean' },
  seconds: { type: 'string' },
  format: { type: 'string' },
  output: { type: 'string', short: 'o' },
  gc: { type: 'boolean' },
  ...TOOL_PROFILE_OPTIONS,
} as const;

const FORMATS = ['pprof', 'folded', 'speedscope', 'html', 'json', 'grafana'] as const;

/** The format a file name suggests, so `-o cold.html` needs no --format. */
function formatFromName(file: string): string | undefined {
  if (/\.(pb\.gz|pprof)$/.test(file)) return 'pprof';
  if (/\.html?$/.test(file)) return 'html';
  if (/\.speedscope\.json$/.test(file)) return 'speedscope';
  if (/\.(folded|txt)$/.test(file)) return 'folded';
  return undefined;
}

function pct(share: number | null): string {
  return share === null ? '-' : `${(share * 100).toFixed(1)}%`;
}

export const profile: Command<typeof options> = {
  name: 'profile',
  summary: 'CPU profiles: the agent\'s (pprof, folded, speedscope, HTML), or a Node function\'s under 0x or clinic',
  usage: 'hearth profile FUNCTION [--cold|--steady] [--seconds N] [--format F] [-o FILE] | hearth profile --gc\n       hearth profile FUNCTION --with 0x|clinic-doctor|clinic-flame --seconds N [--load BODY] [--share F] [-o DIR] [--format F]',
  help: `Writes a CPU profile the agent sampled in the kernel (user and kernel stacks of the
function's workers, symbolised: Go from the symbol table or .gopclntab with file:line, C and
libraries from their ELF symbols, the kernel from /proc/kallsyms, JavaScript from V8's perf
maps when the runtime runs with --node-perf-maps).

  --cold             the cold-start profile (default): workers between exec and ready, sampled
                     at a high rate and summed over every cold start the agent holds
  --steady           the steady-state profile: warm workers at a low rate, over a window
  --seconds N        sample for N seconds from now, then write that window (steady without it:
                     the last 60 s; cold without it: every cold start held)
  --format F         pprof (go tool pprof), folded (flamegraph.pl), speedscope, html (a
                     self-contained interactive flamegraph), json (Hearth's model) or grafana
                     (a data frame for Grafana's flame graph panel); default: from the -o name,
                     else folded
  -o, --output FILE  where to write it (default: standard output; pprof needs a file)
  --gc               print each function's share of CPU in the garbage collector instead
${AGENT_OPTION_HELP}

${TOOL_PROFILE_HELP}`,
  options,
  async run(values, positionals) {
    if (values['with'] !== undefined) return profileWithTool(values, positionals);
    const base = agentBase(values);
    if (values['gc'] === true) {
      const seconds = values['seconds'] === undefined ? 60 : Number(values['seconds']);
      const { functions } = await agentJson<{ functions: GcShare[] }>(base, `/v1/gc?seconds=${seconds}`);
      process.stdout.write(functions.length === 0 ? 'no steady-state samples yet\n' : `${table(['FUNCTION', 'GC SHARE', 'GC SAMPLES', 'SAMPLES'], functions.map((fn) => [fn.function, pct(fn.share), fn.gcSamples, fn.samples]))}\n`);
      return 0;
    }
    const fn = positionals[0];
    if (fn === undefined || positionals.length > 1) {
      const { profiles } = await agentJson<{ profiles: ProfileSummary[] }>(base, '/v1/profiles');
      throw new HearthError('HEARTH_ERR_BAD_REQUEST', `name one function (held: ${profiles.map((entry) => `${entry.function} ${entry.phase} ${entry.samples} samples`).join(', ') || 'nothing yet'})`);
    }
    if (values['cold'] === true && values['steady'] === true) throw new HearthError('HEARTH_ERR_BAD_REQUEST', '--cold and --steady exclude each other');
    const phase = values['steady'] === true ? 'steady' : 'cold';
    const output = values['output'] as string | undefined;
    const format = (values['format'] as string | undefined) ?? (output === undefined ? undefined : formatFromName(output)) ?? 'folded';
    if (!(FORMATS as readonly string[]).includes(format)) throw new HearthError('HEARTH_ERR_BAD_REQUEST', `--format must be one of ${FORMATS.join(', ')} (got ${JSON.stringify(format)})`);
    if (format === 'pprof' && output === undefined && process.stdout.isTTY) throw new HearthError('HEARTH_ERR_BAD_REQUEST', 'pprof is gzipped binary: write it to a file with -o FILE');
    let seconds: number | undefined;
    if (values['seconds'] !== undefined) {
      seconds = Number(values['seconds']);
      if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 3600) throw new HearthError('HEARTH_ERR_BAD_REQUEST', `--seconds must be a number from 0 to 3600 (got ${JSON.stringify(values['seconds'])})`);
      await countDown(seconds, `sampling ${fn} (${phase})`);
    }
    const query = new URLSearchParams({ phase, format, ...(seconds === undefined ? {} : { seconds: String(seconds) }) });
    const response = await agentGet(base, `/v1/profiles/${encodeURIComponent(fn)}?${query}`);
    const body = Buffer.from(await response.arrayBuffer());
    if (output === undefined) {
      process.stdout.write(body);
    } else {
      // Whole or not at all: a failed write leaves no half file behind.
      const temporary = `${output}.${process.pid}.tmp`;
      fs.writeFileSync(temporary, body);
      fs.renameSync(temporary, output);
      process.stderr.write(`wrote ${output} (${format}, ${body.length} bytes)\n`);
    }
    return 0;
  },
};

/** Waits, saying on stderr how long is left. */
async function countDown(seconds: number, what: string): Promise<void> {
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    const left = Math.ceil((end - Date.now()) / 1000);
    if (process.stderr.isTTY) process.stderr.write(`\r${what}: ${left} s left `);
    await new Promise((resolve) => setTimeout(resolve, Math.min(1000, end - Date.now())));
  }
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
  else process.stderr.write(`${what}: ${seconds} s done\n`);
}
