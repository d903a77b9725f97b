// The warm path: an echo function behind the runtime against a bare Node http server that
// returns the same bytes, with the same client (wrk), interleaved in one run: latency on one
// connection, throughput on 64. A second runtime with co-location off answers on one
// connection too, so what co-location gives shows side by side.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { writeResults } from './lib/results.js';
import { EXAMPLES, ServerProcess, freePort } from './lib/server.js';
import { median, round } from './lib/stats.js';
import { ensureWrk, wrk, type WrkResult } from './lib/wrk.js';

const BODY = 'x'.repeat(64);

async function startBare(): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, [fileURLToPath(new URL('./bare-echo.js', import.meta.url)), String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
  return { child, url: `http://127.0.0.1:${port}/` };
}

interface Series {
  rps: number[];
  p50: number[];
  p99: number[];
  errors: number;
}

function add(series: Series, result: WrkResult): void {
  series.rps.push(result.rps);
  series.p50.push(result.p50_us);
  series.p99.push(result.p99_us);
  series.errors += result.errors;
}

const empty = (): Series => ({ rps: [], p50: [], p99: [], errors: 0 });

export async function warm(options: { seconds: number; rounds: number }): Promise<void> {
  ensureWrk();
  const bare = await startBare();
  const hearth = await ServerProcess.start(['--stem-cells', '0']);
  const spread = await ServerProcess.start(['--stem-cells', '0', '--colocate', 'off']);
  try {
    const echoUrl = async (server: ServerProcess): Promise<string> => {
      await server.deploy({ name: 'echo', kind: 'go', entry: `${EXAMPLES}/go-echo`, pool: { min: 1, max: 1 }, limits: { concurrency: 64 }, env: { GOMAXPROCS: '1' } });
      const url = `${server.url}/v1/functions/echo/invoke`;
      const check = await fetch(url, { method: 'POST', body: BODY });
      if ((await check.text()) !== BODY) throw new Error('the echo function does not echo');
      return url;
    };
    const hearthUrl = await echoUrl(hearth);
    const spreadUrl = await echoUrl(spread);
    const results = { bare: { one: empty(), many: empty() }, hearth: { one: empty(), many: empty() }, spread: { one: empty() } };
    // Warm both up, then alternate so drift on this noisy machine hits both alike.
    await wrk(bare.url, BODY, 64, 2);
    await wrk(hearthUrl, BODY, 64, 2);
    for (let round = 0; round < options.rounds; round++) {
      add(results.bare.many, await wrk(bare.url, BODY, 64, options.seconds));
      add(results.hearth.many, await wrk(hearthUrl, BODY, 64, options.seconds));
      add(results.bare.one, await wrk(bare.url, BODY, 1, options.seconds));
      add(results.hearth.one, await wrk(hearthUrl, BODY, 1, options.seconds));
      add(results.spread.one, await wrk(spreadUrl, BODY, 1, options.seconds));
      process.stderr.write(`warm: round ${round + 1}/${options.rounds}: hearth ${results.hearth.many.rps.at(-1)!.toFixed(0)} req/s, bare ${results.bare.many.rps.at(-1)!.toFixed(0)} req/s\n`);
    }
    const m = (values: number[]): number => round(median(values), 1);
    const figures = {
      warm: {
        p50_us: m(results.hearth.one.p50),
        p99_us: m(results.hearth.one.p99),
        throughput_rps: m(results.hearth.many.rps),
        throughput_ratio: round(median(results.hearth.many.rps) / median(results.bare.many.rps), 3),
        p50_overhead_us: round(median(results.hearth.one.p50) - median(results.bare.one.p50), 1),
        loaded_p50_us: m(results.hearth.many.p50),
        loaded_p99_us: m(results.hearth.many.p99),
        errors: results.hearth.many.errors + results.hearth.one.errors,
      },
      bare: {
        p50_us: m(results.bare.one.p50),
        p99_us: m(results.bare.one.p99),
        throughput_rps: m(results.bare.many.rps),
        loaded_p50_us: m(results.bare.many.p50),
        loaded_p99_us: m(results.bare.many.p99),
      },
      colocation_off: {
        p50_us: m(results.spread.one.p50),
        p99_us: m(results.spread.one.p99),
        p50_overhead_us: round(median(results.spread.one.p50) - median(results.bare.one.p50), 1),
      },
      setup: { body_bytes: BODY.length, seconds: options.seconds, rounds: options.rounds, worker: 'examples/go-echo, 1 worker, concurrency 64' },
    };
    writeResults(
      'warm',
      figures,
      {
        headers: ['measure', 'Hearth (echo function)', 'bare Node http', 'ratio / overhead', 'target'],
        rows: [
          ['throughput, 64 connections (req/s, median)', figures.warm.throughput_rps, figures.bare.throughput_rps, figures.warm.throughput_ratio, '>= 0.70 (aim 0.90)'],
          ['p50 latency, 1 connection (µs)', figures.warm.p50_us, figures.bare.p50_us, `+${figures.warm.p50_overhead_us} µs`, '<= +100 µs'],
          ['p99 latency, 1 connection (µs)', figures.warm.p99_us, figures.bare.p99_us, '', ''],
          ['p50 / p99 latency, 1 connection, `--colocate off` (µs)', `${figures.colocation_off.p50_us} / ${figures.colocation_off.p99_us}`, '', `+${figures.colocation_off.p50_overhead_us} µs`, ''],
          ['p50 / p99 latency, 64 connections (µs)', `${figures.warm.loaded_p50_us} / ${figures.warm.loaded_p99_us}`, `${figures.bare.loaded_p50_us} / ${figures.bare.loaded_p99_us}`, '', ''],
        ],
      },
      [
        `wrk -t1, POST of ${BODY.length} bytes, ${options.seconds} s per run, ${options.rounds} rounds alternating the servers; medians over rounds. The servers and wrk share the 2 cores.`,
        'Hearth runs with its defaults, co-location on (README, "Co-location"); a second runtime with `--colocate off` answers on one connection in each round, after the first.',
        `Errors (non-2xx or socket) on the Hearth side: ${figures.warm.errors}.`,
      ],
    );
  } finally {
    bare.child.kill();
    await hearth.stop();
    await spread.stop();
  }
}
