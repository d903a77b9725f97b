import fs from 'node:fs';
import path from 'node:path';
import { HearthError, errorFrom } from '../../shared/errors.js';
import { ndjsonLines } from '../../shared/ndjson.js';
import { readManifestFile } from '../manifest/parse.js';
import type { FunctionInfo } from '../registry.js';
import type { WorkerInfo } from '../api/control.js';
import { formatBytes } from '../state/store.js';
import { CLIENT_HELP, CLIENT_OPTIONS, Client } from './client.js';
import { intOption, table, type Command } from '../../shared/command.js';

const deployOptions = { ...CLIENT_OPTIONS, only: { type: 'string', multiple: true } } as const;

export const deploy: Command<typeof deployOptions> = {
  name: 'deploy',
  summary: 'deploy or update the functions of a manifest',
  usage: 'hearth deploy [hearth.json] [--only NAME]... [--url URL] [--token TOKEN]',
  help: `Deploys every function in the manifest (default ./hearth.json) to a running runtime, or
updates it: code is built (Go) or compiled (TypeScript) on the runtime's host, state is
imported once into shared memory, and one worker of the new version must start before it
goes live; a failed update leaves the previous version serving. Relative paths in the
manifest are resolved against the manifest's directory. Progress is shown as it happens.

Options:
  --only NAME      deploy only this function (repeatable)
${CLIENT_HELP}`,
  options: deployOptions,
  async run(values, positionals) {
    const file = positionals[0] ?? 'hearth.json';
    if (positionals.length > 1) throw new HearthError('HEARTH_ERR_BAD_REQUEST', `hearth deploy takes one manifest (got ${positionals.join(' ')})`);
    const specs = readManifestFile(path.resolve(file));
    const only = (values['only'] as string[] | undefined) ?? [];
    const unknown = only.filter((name) => !specs.some((spec) => spec.name === name));
    if (unknown.length > 0) throw new HearthError('HEARTH_ERR_BAD_REQUEST', `--only: ${unknown.join(', ')} not in ${file}`);
    const client = new Client(values);
    let failures = 0;
    for (const spec of specs.filter((item) => only.length === 0 || only.includes(item.name))) {
      const started = performance.now();
      const response = await client.request('PUT', `/v1/functions/${spec.name}`, {
        body: JSON.stringify(spec),
        headers: { 'content-type': 'application/json', accept: 'application/x-ndjson' },
      });
      if (!response.ok) {
        failures++;
        process.stderr.write(`${spec.name}: ${errorFrom(await response.json(), response.status).message}\n`);
        continue;
      }
      for await (const line of ndjsonLines(response.body)) {
        const message = JSON.parse(line) as { progress?: string; result?: FunctionInfo; error?: { message: string } };
        if (message.progress !== undefined) process.stderr.write(`${spec.name}: ${message.progress}\n`);
        else if (message.error !== undefined) {
          failures++;
          process.stderr.write(`${spec.name}: FAILED: ${message.error.message}\n`);
        } else if (message.result !== undefined) {
          const info = message.result;
          const state = info.state === null ? 'no state' : `state ${info.state.id.slice(0, 12)} (${formatBytes(info.state.bytes)}, ${info.state.backend})`;
          process.stdout.write(`${spec.name}: version ${info.version} live, ${state}, in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
        }
      }
    }
    return failures === 0 ? 0 : 1;
  },
};

const invokeOptions = { ...CLIENT_OPTIONS, file: { type: 'string', short: 'f' }, timeout: { type: 'string' }, verbose: { type: 'boolean', short: 'v' } } as const;

export const invoke: Command<typeof invokeOptions> = {
  name: 'invoke',
  summary: 'invoke a function and print its response',
  usage: 'hearth invoke NAME [DATA | -f FILE | -f -] [--timeout MS] [-v]',
  help: `Sends DATA (or the contents of FILE, or stdin with -f -) to function NAME and writes the
response body to stdout. Exits 1 with the runtime's error message when the invocation fails.

Options:
  -f, --file FILE   request body from FILE ("-" for stdin)
  --timeout MS      shorter timeout than the function's limit for this call
  -v, --verbose     print cold/warm, worker pid and the Server-Timing breakdown to stderr
${CLIENT_HELP}`,
  options: invokeOptions,
  async run(values, positionals) {
    const [name, data] = positionals;
    if (name === undefined) throw new HearthError('HEARTH_ERR_BAD_REQUEST', `usage: ${invoke.usage}`);
    const file = values['file'] as string | undefined;
    if (file !== undefined && data !== undefined) throw new HearthError('HEARTH_ERR_BAD_REQUEST', 'give DATA or --file, not both');
    const body = file === '-' ? fs.readFileSync(0) : file !== undefined ? fs.readFileSync(file) : Buffer.from(data ?? '');
    const timeout = values['timeout'] === undefined ? '' : `?timeoutMs=${intOption(values, 'timeout', 0, 1)}`;
    const response = await new Client(values).request('POST', `/v1/functions/${encodeURIComponent(name)}/invoke${timeout}`, { body, auth: false });
    const bytes = Buffer.from(await response.arrayBuffer());
    if (values['verbose'] === true) {
      process.stderr.write(`HTTP ${response.status} ${response.headers.get('x-hearth-start') ?? '-'} worker ${response.headers.get('x-hearth-worker') ?? '-'} invocation ${response.headers.get('x-hearth-invocation') ?? '-'}\n`);
      process.stderr.write(`server-timing: ${response.headers.get('server-timing') ?? '-'}\n`);
    }
    if (!response.ok) {
      let message = bytes.toString('utf8');
      try {
        message = errorFrom(JSON.parse(message), response.status).message;
      } catch {
        // not JSON: print as is
      }
      process.stderr.write(`hearth invoke ${name}: HTTP ${response.status}: ${message}\n`);
      return 1;
    }
    process.stdout.write(bytes);
    if (process.stdout.isTTY && bytes.length > 0 && bytes[bytes.length - 1] !== 0x0a) process.stdout.write('\n');
    return 0;
  },
};

const listOptions = { ...CLIENT_OPTIONS, json: { type: 'boolean' } } as const;

export const ls: Command<typeof listOptions> = {
  name: 'ls',
  summary: 'list deployed functions',
  usage: 'hearth ls [--json]',
  help: `Lists the deployed functions with their version, state, pool settings and live pool.

Options:
  --json           print the API's JSON instead of a table
${CLIENT_HELP}`,
  options: listOptions,
  async run(values) {
    const { functions } = await new Client(values).json<{ functions: FunctionInfo[] }>('GET', '/v1/functions');
    if (values['json'] === true) {
      process.stdout.write(JSON.stringify(functions, null, 2) + '\n');
      return 0;
    }
    const rows = functions.map((info) => [
      info.name,
      info.kind,
      info.version,
      info.state === null ? '-' : `${formatBytes(info.state.bytes)} ${info.state.backend}`,
      `${info.pool.min}..${info.pool.max}`,
      `${info.status.idle}/${info.status.busy}/${info.status.starting}`,
      info.status.queued,
      info.status.lastStartError === undefined ? '' : `start failing: ${info.status.lastStartError.split('\n')[0]}`,
    ]);
    process.stdout.write(table(['NAME', 'KIND', 'VERSION', 'STATE', 'POOL', 'IDLE/BUSY/STARTING', 'QUEUED', ''], rows) + '\n');
    return 0;
  },
};

export const workers: Command<typeof listOptions> = {
  name: 'workers',
  summary: 'list worker processes',
  usage: 'hearth workers [FUNCTION] [--json]',
  help: `Lists live worker processes (of FUNCTION, or all): pid, status, invocations served,
how long they took to start, and where they came from (a seed, a direct spawn, or a
Node stem cell).

Options:
  --json           print the API's JSON instead of a table
${CLIENT_HELP}`,
  options: listOptions,
  async run(values, positionals) {
    const fn = positionals[0];
    const query = fn === undefined ? '' : `?function=${encodeURIComponent(fn)}`;
    const { workers: list } = await new Client(values).json<{ workers: WorkerInfo[] }>('GET', `/v1/workers${query}`);
    if (values['json'] === true) {
      process.stdout.write(JSON.stringify(list, null, 2) + '\n');
      return 0;
    }
    const rows = list.map((worker) => [
      worker.pid,
      worker.function,
      worker.version,
      worker.status,
      worker.invocations,
      worker.spawnToReadyMs === null ? '-' : `${worker.spawnToReadyMs.toFixed(2)} ms`,
      worker.origin,
      `${(worker.ageMs / 1000).toFixed(1)} s`,
      worker.sdk,
    ]);
    process.stdout.write(table(['PID', 'FUNCTION', 'VERSION', 'STATUS', 'INVOCATIONS', 'START', 'FROM', 'AGE', 'SDK'], rows) + '\n');
    return 0;
  },
};

const removeOptions = { ...CLIENT_OPTIONS } as const;

export const rm: Command<typeof removeOptions> = {
  name: 'rm',
  summary: 'remove a function',
  usage: 'hearth rm NAME...',
  help: `Removes functions: new requests get 404, requests in flight finish, workers exit, and
the state is freed once nothing maps it.

Options:
${CLIENT_HELP}`,
  options: removeOptions,
  async run(values, positionals) {
    if (positionals.length === 0) throw new HearthError('HEARTH_ERR_BAD_REQUEST', `usage: ${rm.usage}`);
    const client = new Client(values);
    for (const name of positionals) {
      await client.json('DELETE', `/v1/functions/${encodeURIComponent(name)}`);
      process.stdout.write(`removed ${name}\n`);
    }
    return 0;
  },
};
