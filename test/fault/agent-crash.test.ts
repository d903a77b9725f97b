// The agent SIGKILLed while the runtime is under load (warm requests and a cold start per
// request): the kernel keeps none of its programs, links or maps; the runtime does not notice
// (every request answered, a deploy does not wait for the dead tracer); a new agent on the
// same port follows again and records every cold start from then on.
import assert from 'node:assert/strict';
import { test } from 'uvu';
import { agentFollows, exited, startAgent, type AgentProcess } from '../helpers/agent-process.js';
import { EXAMPLES, FIXTURES, TestRuntime, ebpfMissing, ourBpfPrograms, sleep, waitFor } from '../helpers/harness.js';
import { LoadClient, faultSeed, seededRandom, type Answer } from '../helpers/load.js';

const missing = ebpfMissing();
const CLIENTS = 6;

async function coldStartsCounted(agent: AgentProcess): Promise<number> {
  const text = await (await fetch(`${agent.url}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith('hearth_coldstarts_total{') && line.includes('function="burst"'))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

async function recordedIds(agent: AgentProcess): Promise<Set<number>> {
  const body = (await (await fetch(`${agent.url}/v1/coldstarts?function=burst&limit=10000`)).json()) as { coldstarts: { requestId: number | null }[] };
  return new Set(body.coldstarts.flatMap((record) => (record.requestId === null ? [] : [record.requestId])));
}

test('agent SIGKILL under load: nothing left in the kernel, the runtime does not notice, a new agent carries on', async () => {
  if (missing !== undefined) {
    process.stdout.write(`HEARTH-SKIP agent crash under load: ${missing}\n`);
    return;
  }
  const seed = faultSeed('fault/agent-crash');
  const random = seededRandom(seed);
  const rt = await TestRuntime.start({ stemCells: 0 });
  const client = new LoadClient(rt.url, CLIENTS);
  let first: AgentProcess | undefined;
  let second: AgentProcess | undefined;
  let running = true;
  try {
    await rt.deploy({ name: 'echo', kind: 'go', entry: `${FIXTURES}/go-misbehave`, pool: { min: 2, max: 2 } });
    // Every request to burst is a cold start: a worker serves once, then retires.
    await rt.deploy({ name: 'burst', kind: 'exec', entry: `${EXAMPLES}/exec-upper/upper`, pool: { min: 0, max: 2, keepAliveMs: 0 }, limits: { maxInvocations: 1 } });
    first = await startAgent(rt.url, rt.runtime.token);
    await waitFor('the first agent to follow the runtime', () => agentFollows(first!), 20_000);
    assert.ok(ourBpfPrograms().length > 0, 'the agent has its programs in the kernel');

    const answers: { answer: Answer; fn: string; sentAt: number }[] = [];
    const load = Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (running) {
          const fn = random() < 0.3 ? 'burst' : 'echo';
          const sentAt = performance.now();
          const answer = await client.post(`/v1/functions/${fn}/invoke`, fn === 'burst' ? 'cold' : 'echo:warm', 5000);
          answers.push({ answer, fn, sentAt });
        }
      }),
    );
    await waitFor('the first agent to count cold starts', async () => (await coldStartsCounted(first!)) > 5, 10_000);
    await sleep(random() * 500);
    const warnedBefore = rt.logged(/ warn /).length;
    first.child.kill('SIGKILL');
    await exited(first.child);
    await waitFor('the kernel to free every program, link and map of the dead agent', () => ourBpfPrograms().length === 0, 5000).catch(() => {
      throw new Error(`left in the kernel after the agent died: ${ourBpfPrograms().join(', ')}`);
    });

    // A deploy right after the kill starts its workers without waiting for the dead tracer.
    const deployStarted = performance.now();
    await rt.deploy({ name: 'late', kind: 'exec', entry: `${EXAMPLES}/exec-upper/upper`, pool: { min: 1, max: 1 } });
    const deployMs = performance.now() - deployStarted;
    assert.ok(deployMs < 1500, `the deploy did not wait for the dead agent (${deployMs.toFixed(0)} ms)`);
    assert.deepEqual(rt.logged(/did not confirm their probes/), [], 'no deploy waited for a tracer');

    // A new agent on the same port follows again and records every cold start it is there for.
    second = await startAgent(rt.url, rt.runtime.token, { port: Number(new URL(first.url).port) });
    await waitFor('the second agent to follow the runtime', () => agentFollows(second!), 20_000);
    const followingSince = performance.now();
    const countedAtStart = await coldStartsCounted(second);
    await sleep(2000);
    running = false;
    await load;
    // Its metrics go on counting (from zero: a new process, which Prometheus reads as a counter reset).
    await waitFor('the second agent\'s metrics to count the new cold starts', async () => (await coldStartsCounted(second!)) > countedAtStart + 5, 5000);
    // Answered ones only: a failed request has no invocation to look for, and is reported below with what it got.
    const afterRestart = answers.filter((entry) => entry.fn === 'burst' && entry.answer.status === 200 && entry.sentAt > followingSince + 200).map((entry) => Number(entry.answer.headers['x-hearth-invocation']));
    assert.ok(afterRestart.length > 0, 'cold starts ran after the second agent connected');
    const missed = async (): Promise<number[]> => {
      const ids = await recordedIds(second!);
      return afterRestart.filter((id) => !ids.has(id));
    };
    await waitFor('the second agent to record every cold start after the restart', async () => (await missed()).length === 0, 5000).catch(async (error: Error) => {
      throw new Error(`${error.message}: invocations ${(await missed()).join(', ')} have no record`);
    });

    // Through it all, the runtime answered every request, and had nothing to warn about.
    const failed = answers.filter((entry) => entry.answer.status !== 200);
    assert.deepEqual(failed.slice(0, 5).map((entry) => `${entry.fn}: ${entry.answer.status} ${entry.answer.failure ?? ''} ${entry.answer.body.toString()}`), [], `${failed.length} of ${answers.length} requests failed`);
    assert.deepEqual(rt.logged(/ warn /).slice(warnedBefore), [], 'the runtime warned about nothing');
    process.stdout.write(`fault/agent-crash: ${answers.length} requests, all answered; the second agent recorded all ${afterRestart.length} cold starts after it connected\n`);

    second.child.kill('SIGTERM');
    assert.equal(await exited(second.child), 0, second.output());
    await waitFor('the second agent to detach', () => ourBpfPrograms().length === 0, 5000);
  } finally {
    running = false;
    client.close();
    first?.child.kill('SIGKILL');
    second?.child.kill('SIGKILL');
    await rt.stop();
  }
});

test.run();
