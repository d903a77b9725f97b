// V8's tick profiler, as 0x uses it (and clinic flame, through 0x): --prof makes V8 sample the
// main thread's stack and write each sample, with every piece of code it met, to a log per
// isolate; 0x's processing turns the log into "ticks", each one stack of named frames.
import fs from 'node:fs';
import path from 'node:path';
import { HearthError } from '../../shared/errors.js';

/** V8's sampling rate under --prof (its default interval, 1 ms, stated so the rate is known). */
export const V8_PROF_HZ = 1000;

/** Flags that make V8 write its tick log into `dir`. */
export function v8ProfFlags(dir: string): string[] {
  return ['--prof', `--prof-sampling-interval=${1_000_000 / V8_PROF_HZ}`, `--logfile=${path.join(dir, '%p-v8.log')}`];
}

/** 0x's modules, resolved from one installed copy of 0x (clinic flame carries its own). */
type ZeroXRequire = (id: string) => unknown;

/** A tick's frame as 0x's tree builder (ticks-to-tree, used by 0x's and flame's pages) reads it. */
interface TickFrame {
  name: string;
  type: string;
  kind?: string;
}

/**
 * Writes 0x's profile folder into `dir` (beside the worker's tick log: ticks.json, and
 * meta.json as 0x writes it, which clinic flame reads) and returns the ticks. Each frame keeps
 * what 0x's tree builder reads: V8's source positions, which nothing of 0x's reads, would make
 * the file five times larger. The intermediate files of 0x's processing are removed.
 */
export async function writeTicks(zeroX: ZeroXRequire, dir: string, pid: number, meta: { entry: string; title: string }): Promise<TickFrame[][]> {
  const { getIsolateLog } = zeroX('0x/platform/v8') as { getIsolateLog(dir: string, pid: number): string | undefined };
  const v8LogToTicks = zeroX('0x/lib/v8-log-to-ticks') as (log: string, options: { pathToNodeBinary: string; collectDelay: number }) => Promise<TickFrame[][]>;
  const logName = getIsolateLog(dir, pid);
  if (logName === undefined) throw new HearthError('HEARTH_ERR_PROFILE_TOOL', `no V8 tick log of worker ${pid} in ${dir}: did it run with --prof and exit cleanly?`);
  const log = path.join(dir, logName);
  const ticks = (await v8LogToTicks(log, { pathToNodeBinary: process.execPath, collectDelay: 0 })).map((stack) => stack.map(({ name, type, kind }) => ({ name, type, kind })));
  for (const intermediate of [`${log}.preprocess-ready`, `${log}.json`]) fs.rmSync(intermediate, { force: true });
  await fs.promises.writeFile(path.join(dir, 'ticks.json'), JSON.stringify(ticks));
  const zeroXMeta = { argv: [meta.entry], name: 'flamegraph', title: meta.title, pathToNodeBinary: process.execPath, inlined: {} };
  fs.writeFileSync(path.join(dir, 'meta.json'), JSON.stringify(zeroXMeta));
  return ticks;
}
