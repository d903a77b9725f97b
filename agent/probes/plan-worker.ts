// Plans a binary's probes in a worker thread: reading a large symbol table (Node's has over
// 100,000 symbols) builds tens of megabytes of objects that are needed for a moment only; in a
// worker they go away with its heap instead of staying in the agent's resident memory.
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { planAddon, planGo, planNode, type PlanOptions, type ProbePlan } from './targets.js';

export type PlanKind = 'go' | 'node' | 'node-addon';

interface Request {
  kind: PlanKind;
  binary: string;
  options: PlanOptions;
}

function plan(request: Request): ProbePlan {
  switch (request.kind) {
    case 'go':
      return planGo(request.binary, request.options);
    case 'node':
      return planNode(request.binary);
    case 'node-addon':
      return planAddon(request.binary, request.options);
  }
}

export function planInWorker(kind: PlanKind, binary: string, options: PlanOptions): Promise<ProbePlan> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: { kind, binary, options } satisfies Request });
    worker.once('message', (message: { plan?: ProbePlan; error?: string }) => {
      if (message.plan !== undefined) resolve(message.plan);
      else reject(new Error(message.error ?? `planning probes for ${binary} failed`));
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`planning probes for ${binary}: worker exited with code ${code}`));
    });
  });
}

if (!isMainThread && parentPort !== null) {
  try {
    parentPort.postMessage({ plan: plan(workerData as Request) });
  } catch (error) {
    parentPort.postMessage({ error: (error as Error).message });
  }
}
