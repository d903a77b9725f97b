// Cold starts with 1 GiB of state, measured at a client on loopback, beside the floor of
// the same machine (exec of the bare binary, `node -e 0`), interleaved in one run; the time
// to scan all of the state on 4 KiB and huge pages; and the memory of 8 warm workers.
import fs from 'node:fs';
import * as native from '../native/index.js';
import { GIB, LOOKUP_STATE, ensureLookupState } from '../examples/state.js';
import { RawClient, serverTotalMs } from './lib/http.js';
import { writeResults } from './lib/results.js';
import { EXAMPLES, ServerProcess } from './lib/server.js';
import { median, round, summarise, type Summary } from './lib/stats.js';

const RECORDS = GIB / 64;
const devNull = fs.openSync('/dev/null', 'r+');

interface Options {
  samples: number;
  scans: number;
}

/** Time from spawn to exit of a bare program, with the same spawn helper the runtime uses. */
function floorSample(file: string, argv: string[]): Promise<number> {
  const started = performance.now();
  const { pidfd } = native.spawn({ file, argv, env: [], fds: [devNull, devNull, devNull] });
  return new Promise((resolve) => native.watchExit(pidfd, () => resolve(performance.now() - started)));
}

/** Waits until the function has no worker and the spare processes the path needs are ready. */
async function waitForColdConditions(server: ServerProcess, fn: string, spares: { seeds: number; stemCells: number }): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const state = await server.api<{ workers: unknown[]; seedsReady: number; stemCellsReady: number }>('GET', `/v1/workers?function=${fn}`);
    if (state.workers.length === 0 && state.seedsReady >= spares.seeds && state.stemCellsReady >= spares.stemCells) return;
    if (Date.now() > deadline) throw new Error(`${fn}: workers or spares did not settle: ${JSON.stringify(state)}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

interface ColdRun {
  cold: Summary;
  /** The same cold starts as the runtime timed them (Server-Timing total): arrival to response. */
  server: Summary;
  floor: Summary;
  origins: Record<string, number>;
}

/**
 * `samples` cold starts of one function, each preceded by one floor sample. Workers are
 * recycled after every invocation, so every request finds the pool empty.
 */
async function coldStarts(label: string, serverArgs: string[], fn: Record<string, unknown>, floor: [string, string[]], spares: { seeds: number; stemCells: number }, samples: number): Promise<ColdRun> {
  const server = await ServerProcess.start(serverArgs);
  try {
    const name = String(fn['name']);
    await server.deploy({ ...fn, pool: { min: 0, max: 1, keepAliveMs: 0 }, limits: { maxInvocations: 1, memoryMb: 256, timeoutMs: 10_000 } });
    const client = await RawClient.connect(server.port);
    const cold: number[] = [];
    const serverMs: number[] = [];
    const floors: number[] = [];
    const origins: Record<string, number> = {};
    for (let i = 0; i < samples; i++) {
      await waitForColdConditions(server, name, spares);
      floors.push(await floorSample(...floor));
      const key = Math.floor(Math.random() * RECORDS);
      const reply = await client.post(`/v1/functions/${name}/invoke`, String(key));
      if (reply.status !== 200 || !reply.body.toString().startsWith(`{"key":${key},`)) throw new Error(`${label}: bad reply ${reply.status} ${reply.body}`);
      if (reply.headers.get('x-hearth-start') !== 'cold') throw new Error(`${label}: sample ${i} was not a cold start`);
      const origin = reply.headers.get('x-hearth-origin') ?? 'unknown';
      origins[origin] = (origins[origin] ?? 0) + 1;
      cold.push(reply.ms);
      serverMs.push(serverTotalMs(reply));
      if (i % 50 === 0) process.stderr.write(`${label}: ${i}/${samples} (last ${reply.ms.toFixed(2)} ms via ${origin})\n`);
    }
    client.close();
    return { cold: summarise(cold), server: summarise(serverMs), floor: summarise(floors), origins };
  } finally {
    await server.stop();
  }
}

/** Median time (inside the worker) for a freshly started worker to read all of its state. */
async function scanAfterColdStart(backend: string, scans: number): Promise<number> {
  const server = await ServerProcess.start(['--stem-cells', '0', '--state-backend', backend]);
  try {
    await server.deploy({ name: 'lookup', kind: 'go', entry: `${EXAMPLES}/go-lookup`, state: LOOKUP_STATE, pool: { min: 0, max: 1, keepAliveMs: 0 }, limits: { maxInvocations: 1, timeoutMs: 30_000 } });
    const client = await RawClient.connect(server.port);
    const times: number[] = [];
    for (let i = 0; i < scans; i++) {
      await waitForColdConditions(server, 'lookup', { seeds: 0, stemCells: 0 });
      const reply = await client.post('/v1/functions/lookup/invoke', '{"op":"scan"}');
      const scan = JSON.parse(reply.body.toString()) as { bytes: number; ns: number };
      if (scan.bytes !== GIB) throw new Error(`scan read ${scan.bytes} bytes`);
      times.push(scan.ns / 1e6);
    }
    client.close();
    process.stderr.write(`scan on ${backend}: ${times.map((t) => t.toFixed(1)).join(' ')} ms\n`);
    return round(median(times), 1);
  } finally {
    await server.stop();
  }
}

interface MemoryFigures {
  workers: number;
  pss_total_mb: number;
  state_share_mb: number;
  private_pss_mb_per_worker: number;
  rss_sum_mb: number;
  hugetlb_pages_in_use_delta: number;
}

function smapsRollup(pid: number): Record<string, number> {
  const fields: Record<string, number> = {};
  for (const line of fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8').split('\n')) {
    const match = /^(\w+):\s+(\d+) kB/.exec(line);
    if (match !== null) fields[match[1]!] = Number(match[2]) * 1024;
  }
  return fields;
}

function hugePagesInUse(): number {
  const meminfo = fs.readFileSync('/proc/meminfo', 'utf8');
  const read = (key: string): number => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(meminfo)![1]);
  return read('HugePages_Total') - read('HugePages_Free');
}

/**
 * 8 warm workers that have each read all of the state. PSS leaves hugetlb pages out, so
 * each worker's share of them is its hugetlb mapping divided by the workers mapping it;
 * the huge page pool confirms one copy.
 */
async function memory(workers: number): Promise<MemoryFigures> {
  const before = hugePagesInUse();
  const server = await ServerProcess.start(['--stem-cells', '0']);
  try {
    await server.deploy({ name: 'lookup', kind: 'go', entry: `${EXAMPLES}/go-lookup`, state: LOOKUP_STATE, pool: { min: workers, max: workers }, limits: { timeoutMs: 30_000 } });
    let list = await server.workers('lookup');
    while (list.filter((worker) => worker.status === 'idle').length < workers) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      list = await server.workers('lookup');
    }
    const clients = await Promise.all(Array.from({ length: workers }, () => RawClient.connect(server.port)));
    const scanned = new Set<string>();
    for (let round = 0; round < 50 && scanned.size < workers; round++) {
      const replies = await Promise.all(clients.map((client) => client.post('/v1/functions/lookup/invoke', '{"op":"scan"}')));
      for (const reply of replies) scanned.add(reply.headers.get('x-hearth-worker')!);
    }
    for (const client of clients) client.close();
    if (scanned.size < workers) throw new Error(`only ${scanned.size} workers scanned`);
    let pss = 0;
    let rss = 0;
    let stateShare = 0;
    for (const pid of scanned) {
      const rollup = smapsRollup(Number(pid));
      const hugetlb = (rollup['Shared_Hugetlb'] ?? 0) + (rollup['Private_Hugetlb'] ?? 0);
      pss += rollup['Pss'] ?? 0;
      rss += (rollup['Rss'] ?? 0) + hugetlb;
      stateShare += hugetlb / workers;
    }
    const mb = (bytes: number): number => round(bytes / 1048576, 1);
    return {
      workers,
      pss_total_mb: mb(pss + stateShare),
      state_share_mb: mb(stateShare),
      private_pss_mb_per_worker: mb(pss / workers),
      rss_sum_mb: mb(rss),
      hugetlb_pages_in_use_delta: hugePagesInUse() - before,
    };
  } finally {
    await server.stop();
  }
}

export async function coldstart(options: Options): Promise<void> {
  await ensureLookupState(LOOKUP_STATE, GIB, (line) => process.stderr.write(`${line}\n`));
  const { samples, scans } = options;
  const goFn = { name: 'lookup', kind: 'go', entry: `${EXAMPLES}/go-lookup`, state: LOOKUP_STATE };
  const nodeFn = { name: 'lookup-node', kind: 'node', entry: `${EXAMPLES}/node-lookup/index.ts`, state: LOOKUP_STATE };
  // The bare Go binary exits at once when it is not started by a runtime (no IPC fd).
  const goBinary = (await (async () => {
    const server = await ServerProcess.start(['--stem-cells', '0', '--seeds', '0']);
    try {
      await server.deploy({ ...goFn, state: undefined });
      return (await server.api<{ binary: string }>('GET', '/v1/functions/lookup')).binary;
    } finally {
      await server.stop();
    }
  })()) as string;

  const go = await coldStarts('go', ['--stem-cells', '0'], goFn, [goBinary, ['lookup']], { seeds: 2, stemCells: 0 }, samples);
  const nodeScratch = await coldStarts('node (scratch)', ['--stem-cells', '0'], nodeFn, [process.execPath, ['node', '-e', '0']], { seeds: 2, stemCells: 0 }, samples);
  const nodeStem = await coldStarts('node (stem cell)', ['--stem-cells', '1'], nodeFn, [process.execPath, ['node', '-e', '0']], { seeds: 2, stemCells: 1 }, samples);
  const scan4k = await scanAfterColdStart('tmpfs', scans);
  const scanHuge = await scanAfterColdStart('hugetlb', scans);
  const mem = await memory(8);

  const figures = {
    go: { cold: go.cold, cold_server: go.server, floor: go.floor, origins: go.origins },
    node: {
      cold: nodeScratch.cold,
      cold_server: nodeScratch.server,
      stemcell: nodeStem.cold,
      stemcell_server: nodeStem.server,
      floor: nodeScratch.floor,
      origins: { cold: nodeScratch.origins, stemcell: nodeStem.origins },
    },
    state: { bytes: GIB, scan_ms_4k: scan4k, scan_ms_huge: scanHuge },
    memory: mem,
  };
  const row = (label: string, summary: Summary, target: string): (string | number)[] => [label, summary.n, summary.p50_ms, summary.p99_ms, summary.max_ms, target];
  writeResults(
    'coldstart',
    figures,
    {
      headers: ['measure', 'n', 'p50 ms', 'p99 ms', 'max ms', 'target'],
      rows: [
        row('Go cold start, 1 GiB state (client on loopback)', go.cold, 'p99 <= 10 ms (aim 3)'),
        row('  the same, timed by the runtime (arrival to response)', go.server, ''),
        row('floor: exec of the bare Go binary to exit', go.floor, ''),
        row('Node cold start from scratch, 1 GiB state', nodeScratch.cold, 'p99 <= 50 ms'),
        row('  the same, timed by the runtime', nodeScratch.server, ''),
        row('Node cold start from a stem cell', nodeStem.cold, 'p99 <= 10 ms'),
        row('  the same, timed by the runtime', nodeStem.server, ''),
        row('floor: `node -e 0` to exit', nodeScratch.floor, ''),
        ['full scan of 1 GiB after a cold start, 4 KiB tmpfs (median)', scans, scan4k, '', '', ''],
        ['full scan of 1 GiB after a cold start, 2 MiB hugetlb (median)', scans, scanHuge, '', '', ''],
        [`memory: ${mem.workers} warm Go workers, total PSS incl. state share (MiB)`, mem.workers, mem.pss_total_mb, '', '', 'state counted once'],
        ['memory: state share of that (MiB)', mem.workers, mem.state_share_mb, '', '', '1024'],
        ['memory: sum of RSS incl. hugetlb mappings, for contrast (MiB)', mem.workers, mem.rss_sum_mb, '', '', ''],
      ],
    },
    [
      `Each cold start: the pool is empty (workers recycle after one invocation) and a client on loopback sends one request with a random key; the time is request to response at the client. Floor samples alternate with cold starts in the same run.`,
      `Go cold starts came from: ${JSON.stringify(go.origins)}; Node from scratch: ${JSON.stringify(nodeScratch.origins)}; Node stem cells: ${JSON.stringify(nodeStem.origins)}.`,
      `Memory: PSS excludes hugetlb pages, so each worker's share of the state is its hugetlb mapping divided by the ${mem.workers} workers mapping it; huge pages in use grew by ${mem.hugetlb_pages_in_use_delta} (${mem.hugetlb_pages_in_use_delta * 2} MiB) for all ${mem.workers} workers.`,
    ],
  );
}
