import fs from 'node:fs';
import { nowMs } from '../clock.js';
import { asHearthError, HearthError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { ProfileToolName, ToolProfileRun } from '../../shared/tool-profiles.js';
import type { FunctionPool } from '../pool/pool.js';
import type { SideWorker } from '../pool/side-worker.js';
import { newInvocation, type Invocation, type Settlement } from '../supervisor/invocation.js';
import type { ExitInfo } from '../supervisor/worker.js';
import { finishRun, type Finishing } from './finish.js';
import { listFiles } from './files.js';
import { PROFILE_TOOL_IMPLEMENTATIONS } from './tools.js';

/** After an invocation of its own the function counts as busy this long: the generated workload waits. */
const OWN_TRAFFIC_MS = 1000;
/** How often an idle profiled worker is looked for (between answers, which feed it at once). */
const FEED_MS = 100;
const PROGRESS_MS = 1000;

export interface SessionOptions {
  id: string;
  pool: FunctionPool;
  tool: ProfileToolName;
  seconds: number;
  share: number;
  /** Sent to the profiled worker whenever it is free and the function has no traffic of its own. */
  load: Buffer | undefined;
  dir: string;
  nextInvocationId(): number;
  log: Logger;
}

/**
 * One profiling run with a tool: a worker of the function started under the tool beside its
 * pool, a share of the function's invocations (and a generated workload while it has none of
 * its own) sent to it for the run's seconds, the worker retired once it has answered what it
 * holds, then the tool's processing, and the artifacts listed.
 */
export class ToolProfileSession {
  readonly run: ToolProfileRun;
  /** Resolves with the run when it is done or has failed. */
  readonly finished: Promise<ToolProfileRun>;
  /** Why the run failed, with its code. */
  failure: HearthError | undefined;
  private readonly listeners = new Set<(message: string) => void>();
  private readonly entry: string;
  private side: SideWorker | undefined;
  private finishing: Finishing | undefined;
  private cancelled = false;
  private loadFailed = false;

  constructor(private readonly options: SessionOptions) {
    const { id, pool, tool, seconds, share, dir } = options;
    this.entry = pool.current.artifact.entry!;
    this.run = { id, function: pool.name, tool, status: 'starting', pid: 0, seconds, share, startUnixMs: 0, durationMs: 0, invocations: { routed: 0, generated: 0, failed: 0 }, dir, files: [] };
    this.finished = this.execute();
  }

  get ended(): boolean {
    return this.run.status === 'done' || this.run.status === 'failed';
  }

  /** Hears each progress message until the run ends; returns the way to stop hearing. */
  onProgress(listener: (message: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Ends the run without processing its data (the runtime is stopping and stops the worker itself). */
  cancel(): void {
    this.cancelled = true;
    this.finishing?.kill();
  }

  private async execute(): Promise<ToolProfileRun> {
    try {
      await this.profile();
      await this.process();
      this.run.status = 'done';
      this.say(`done: ${this.run.report} (${this.run.files.length} files in ${this.run.dir})`);
    } catch (error) {
      this.failure = asHearthError(error, 'HEARTH_ERR_PROFILE_TOOL');
      this.run.status = 'failed';
      this.run.error = this.failure.message;
      this.side?.retire('its profiling run failed');
      // What the worker and the tool left stays readable, for a look at the raw data.
      if (fs.existsSync(this.run.dir)) this.run.files = listFiles(this.run.dir);
      this.say(`failed: ${this.failure.message}`);
    }
    this.listeners.clear();
    return this.run;
  }

  /** Runs the worker under the tool for the run's seconds; resolves once it has exited cleanly. */
  private async profile(): Promise<void> {
    const { pool, tool, seconds, share, load, dir } = this.options;
    const side = pool.startBeside((launch) => PROFILE_TOOL_IMPLEMENTATIONS[tool].instrument(launch, dir), share);
    this.side = side;
    this.run.pid = side.worker.pid;
    this.run.invocations = side.answered;
    this.say(`worker ${side.worker.pid} of ${pool.name} is starting under ${tool}`);
    try {
      await side.ready;
    } catch {
      throw workerFailure(await side.exited, side, tool);
    }
    this.run.status = 'profiling';
    this.run.startUnixMs = Date.now();
    const started = nowMs();
    const generated = load === undefined ? '' : `, and a generated workload while it has none of its own`;
    this.say(`profiling worker ${side.worker.pid} for ${seconds} s: ${Math.round(share * 100)}% of ${pool.name}'s invocations${generated}`);
    side.onSlotFree = () => this.feed();
    const feeder = setInterval(() => this.feed(), FEED_MS);
    const reporter = setInterval(() => this.tell(`${Math.max(0, Math.ceil(seconds - (nowMs() - started) / 1000))} s left; ${answeredText(side)}`), PROGRESS_MS);
    let timer: NodeJS.Timeout | undefined;
    const elapsed = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), seconds * 1000)));
    const endedEarly = await Promise.race([elapsed, side.exited]);
    clearTimeout(timer);
    clearInterval(feeder);
    clearInterval(reporter);
    side.onSlotFree = () => undefined;
    this.run.status = 'stopping';
    if (endedEarly === undefined) this.say(`stopping worker ${side.worker.pid}: it answers what it holds, then exits (${answeredText(side)})`);
    side.retire('its profiling run ended');
    const exit = endedEarly ?? (await side.exited);
    this.run.durationMs = Math.round(nowMs() - started);
    if (this.cancelled) throw new HearthError('HEARTH_ERR_SHUTTING_DOWN', 'the runtime stopped during the run');
    if (exit.code !== 0 || exit.signal !== null) throw workerFailure(exit, side, tool);
    if (endedEarly !== undefined) this.say(`worker ${side.worker.pid} left early (${exit.reason}) after ${(this.run.durationMs / 1000).toFixed(1)} s; processing what it collected`);
  }

  /** The tool's own processing, in a child process; then the run's files. */
  private async process(): Promise<void> {
    const { tool, dir, log } = this.options;
    this.run.status = 'processing';
    this.say(`processing ${tool}'s data`);
    const { pid, function: fn, durationMs } = this.run;
    const facts = { dir, pid, entry: this.entry, title: `${fn}: worker ${pid}, ${(durationMs / 1000).toFixed(1)} s (hearth)`, seconds: Math.round(durationMs / 1000) };
    this.finishing = finishRun(tool, facts, (line) => log.debug(`${tool} (run ${this.run.id}): ${line}`));
    const output = await this.finishing.output;
    this.run.report = output.report;
    if (output.ticks !== undefined) this.run.ticks = output.ticks;
    this.run.files = listFiles(dir);
  }

  /** Keeps the profiled worker busy with the generated request while the function has no traffic of its own. */
  private feed(): void {
    const { side } = this;
    const { load } = this.options;
    if (side === undefined || load === undefined || this.run.status !== 'profiling') return;
    if (nowMs() - side.lastOfferAt < OWN_TRAFFIC_MS) return;
    while (side.worker.freeSlots > 0) side.worker.invoke(this.generatedInvocation(load));
  }

  private generatedInvocation(body: Buffer): Invocation {
    const now = nowMs();
    const done = (outcome: Settlement): void => {
      if (outcome.ok || this.loadFailed) return;
      this.loadFailed = true;
      this.say(`the generated request failed (later failures are only counted): ${outcome.error.message}`);
    };
    const deadline = now + this.options.pool.current.spec.limits.timeoutMs;
    return newInvocation({ id: this.options.nextInvocationId(), fn: this.run.function, body, arrivedAt: now, deadline, generated: true, done });
  }

  /** A milestone: to the listeners and the log. */
  private say(message: string): void {
    this.options.log.info(`profiling run ${this.run.id}: ${message}`);
    this.tell(message);
  }

  /** Progress: to the listeners only. */
  private tell(message: string): void {
    for (const listener of this.listeners) listener(message);
  }
}

function answeredText(side: SideWorker): string {
  const { routed, generated, failed } = side.answered;
  return `${routed} invocations of its own answered, ${generated} generated, ${failed} failed`;
}

function workerFailure(exit: ExitInfo, side: SideWorker, tool: ProfileToolName): HearthError {
  const output = exit.lastOutput.slice(-5).join(' | ');
  return new HearthError('HEARTH_ERR_PROFILE_TOOL', `${tool}: worker ${side.worker.pid} ${exit.reason}, so the tool's data is missing or incomplete${output === '' ? '' : `; its last output: ${output}`}`, {
    details: { pid: side.worker.pid, tool },
  });
}
