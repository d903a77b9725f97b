// When the agent's syscall hooks are attached: in auto mode only while a deployed function's
// workers report neither state nor ready through probed SDK markers.
import assert from 'node:assert/strict';
import { test } from 'uvu';
import { SyscallHookDemand, type SyscallHookMode } from '../../agent/probes/syscall-demand.js';

function demand(mode: SyscallHookMode): { hooks: SyscallHookDemand; applied: [boolean, string][] } {
  const applied: [boolean, string][] = [];
  return { hooks: new SyscallHookDemand(mode, (on, reason) => applied.push([on, reason])), applied };
}

test('auto: attached while some function lacks markers, detached when the last one has them or is gone', () => {
  const { hooks, applied } = demand('auto');
  assert.equal(hooks.wanted(), false);
  hooks.prepared('go-fn', true);
  assert.deepEqual(applied, [], 'a function with markers needs no hooks');
  hooks.prepared('upper', false);
  hooks.prepared('plain-go', false);
  assert.deepEqual(applied, [[true, 'upper has no SDK markers']], 'attached once, by the first that needs them');
  assert.deepEqual(hooks.functions, ['plain-go', 'upper']);
  hooks.removed('upper');
  hooks.prepared('plain-go', true); // a new version built with the SDK
  assert.deepEqual(applied.at(-1), [false, 'plain-go reports through SDK markers']);
  assert.equal(applied.length, 2);
  hooks.removed('never-deployed');
  assert.equal(applied.length, 2);
});

test('on and off do not follow the functions', () => {
  for (const [mode, wanted] of [['on', true], ['off', false]] as const) {
    const { hooks, applied } = demand(mode);
    hooks.prepared('upper', false);
    hooks.removed('upper');
    assert.equal(hooks.wanted(), wanted, mode);
    assert.deepEqual(applied, [], `${mode}: nothing to change`);
  }
});

test.run();
