// Applies pool decisions to the runtime with PATCH /v1/functions/NAME {"pool": ...}: at once,
// then again whenever a decision's pre-warm opens or closes (a timer per function); a window
// already open when a new decision comes stays open to its end. One request per function at a
// time; a decision that arrives meanwhile is sent once the request in flight has been
// answered, so the runtime always ends with the latest.

import type { PoolDecision, Prewarm } from '../policies/policy.js';
import { heldWindow, nextChange, poolAt, type RuntimePool, samePool } from './pool-settings.js';

export interface ApplierDeps {
  patch(fn: string, pool: RuntimePool): Promise<RuntimePool>;
  /** The policy clock, CLOCK_MONOTONIC ms. */
  now(): number;
  /** A timed change (a pre-warm opening or closing) could not be applied. */
  failed(fn: string, error: Error): void;
}

interface Target {
  decision: PoolDecision | undefined;
  /** A pre-warm window of a replaced decision, kept open to its end. */
  held: Prewarm | undefined;
  /** What the runtime has, as last read or applied. */
  inForce: RuntimePool | undefined;
  sending: Promise<void> | undefined;
  timer: NodeJS.Timeout | undefined;
}

export class PoolApplier {
  private readonly targets = new Map<string, Target>();

  constructor(private readonly deps: ApplierDeps) {}

  /** What the runtime has now (read from it, or after someone else changed it). */
  inForce(fn: string, pool: RuntimePool): void {
    this.target(fn).inForce = { ...pool };
  }

  current(fn: string): RuntimePool | undefined {
    return this.targets.get(fn)?.inForce;
  }

  /** Makes `decision` the one to follow; resolves once what it asks for now is in force, rejects if the runtime refused. */
  follow(fn: string, decision: PoolDecision): Promise<void> {
    const target = this.target(fn);
    target.held = heldWindow(target.decision, target.held, this.deps.now());
    target.decision = decision;
    return this.sync(fn);
  }

  /** Stops following a function's decision; the runtime keeps what it has. */
  forget(fn: string): void {
    const target = this.targets.get(fn);
    if (target === undefined) return;
    clearTimeout(target.timer);
    this.targets.delete(fn);
  }

  /** Stops every timer (the agent stops). */
  close(): void {
    for (const target of this.targets.values()) clearTimeout(target.timer);
    this.targets.clear();
  }

  private async sync(fn: string): Promise<void> {
    const target = this.targets.get(fn);
    if (target?.decision === undefined) return;
    if (target.sending !== undefined) {
      // The request in flight may carry an older decision: send again after it.
      await target.sending.catch(() => undefined);
      return this.sync(fn);
    }
    const now = this.deps.now();
    const decision = target.decision;
    this.arm(fn, target, decision, now);
    const wanted = poolAt(decision, now, target.held);
    if (samePool(target.inForce, wanted)) return;
    const sending = this.deps.patch(fn, wanted).then((applied) => {
      target.inForce = applied;
    });
    target.sending = sending;
    try {
      await sending;
    } finally {
      target.sending = undefined;
    }
  }

  private arm(fn: string, target: Target, decision: PoolDecision, now: number): void {
    clearTimeout(target.timer);
    target.timer = undefined;
    const at = nextChange(decision, now, target.held);
    if (at === undefined) return;
    target.timer = setTimeout(() => {
      target.timer = undefined;
      if (this.targets.get(fn) === target) this.sync(fn).catch((error: Error) => this.deps.failed(fn, error));
    }, Math.max(0, at - now));
    target.timer.unref();
  }

  private target(fn: string): Target {
    let target = this.targets.get(fn);
    if (target === undefined) this.targets.set(fn, (target = { decision: undefined, held: undefined, inForce: undefined, sending: undefined, timer: undefined }));
    return target;
  }
}
