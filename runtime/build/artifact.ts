import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ADDON_FILE } from '../../native/index.js';
import { HearthError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { WorkerFile } from '../isolation/access.js';
import type { FunctionSpec } from '../manifest/spec.js';
import { buildGoPackage, isExecutable } from './go.js';
import { prepareNodeEntry } from './node.js';

/** What a deployed function runs, prepared once at deploy time. */
export interface Artifact {
  /** The file exec'd for each worker. */
  file: string;
  /** argv after argv[0]. */
  args: string[];
  /** Node functions: the JS module a worker loads. */
  entry?: string;
  /** Node functions: V8 flags; functions with the same flags can share stem cells. */
  nodeFlags?: string[];
}

/**
 * The Node SDK's worker entry point, run by every Node worker and stem cell: worker-main.ts
 * bundled into one CommonJS file at build time (scripts/bundle-worker.mjs), which Node loads
 * about 9 ms faster than the same code as ES modules.
 */
export const NODE_WORKER_MAIN = fileURLToPath(new URL('../sdk/node/worker.cjs', import.meta.url));

export async function prepareArtifact(spec: FunctionSpec, cacheDir: string, log: Logger): Promise<Artifact> {
  const label = `function ${spec.name}`;
  switch (spec.kind) {
    case 'go': {
      if (!fs.existsSync(spec.entry)) throw new HearthError('HEARTH_ERR_BUILD', `${label}: entry ${spec.entry} does not exist`, { details: { field: 'entry' } });
      if (fs.statSync(spec.entry).isDirectory()) return { file: await buildGoPackage(spec.entry, cacheDir, label, log), args: spec.args };
      return { file: executable(spec, label), args: spec.args };
    }
    case 'exec':
      return { file: executable(spec, label), args: spec.args };
    case 'node': {
      const entry = await prepareNodeEntry(spec.entry, label, log);
      return { file: process.execPath, args: [], entry, nodeFlags: nodeFlags(spec) };
    }
  }
}

/** What a worker of the artifact opens or execs by path, as its own user. */
export function workerFiles(artifact: Artifact): WorkerFile[] {
  if (artifact.entry === undefined) return [{ file: artifact.file, access: 'execute' }];
  return [
    { file: artifact.file, access: 'execute' },
    { file: NODE_WORKER_MAIN, access: 'read' },
    { file: ADDON_FILE, access: 'read' },
    { file: artifact.entry, access: 'read' },
  ];
}

export function nodeFlags(spec: Pick<FunctionSpec, 'gc'>): string[] {
  const flags: string[] = [];
  if (spec.gc.maxOldSpaceMb !== undefined) flags.push(`--max-old-space-size=${spec.gc.maxOldSpaceMb}`);
  if (spec.gc.maxSemiSpaceMb !== undefined) flags.push(`--max-semi-space-size=${spec.gc.maxSemiSpaceMb}`);
  return flags;
}

function executable(spec: FunctionSpec, label: string): string {
  if (!isExecutable(spec.entry)) {
    throw new HearthError('HEARTH_ERR_BUILD', `${label}: entry ${spec.entry} is not an executable file`, { details: { field: 'entry' } });
  }
  return spec.entry;
}
