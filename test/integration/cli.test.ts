// The hearth CLI, run as real processes against a real `hearth serve`.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import { FIXTURES, ROOT, TEST_CACHE, waitFor } from '../helpers/harness.js';

const HEARTH = path.join(ROOT, 'dist/cli/main.js');
let server: ChildProcess;
let serverLog = '';
let url = '';
let workDir = '';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (probe.address() as net.AddressInfo).port;
      probe.close(() => resolve(port));
    });
  });
}

function hearth(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [HEARTH, ...args], { env: { ...process.env, HEARTH_URL: url } }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : Number(error.code ?? 1), stdout, stderr });
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}

test.before(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-cli-'));
  fs.writeFileSync(
    path.join(workDir, 'hearth.json'),
    JSON.stringify({
      functions: [
        { name: 'misbehave', kind: 'go', entry: path.join(FIXTURES, 'go-misbehave'), pool: { min: 1, max: 2 } },
        { name: 'echo-node', kind: 'node', entry: path.join(FIXTURES, 'node-echo.mjs') },
      ],
    }),
  );
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  server = spawn(process.execPath, [HEARTH, 'serve', '--port', String(port), '--cache', TEST_CACHE, '--stem-cells', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  server.stderr!.on('data', (chunk: Buffer) => (serverLog += chunk.toString()));
  await waitFor('hearth serve to listen', () => serverLog.includes('listening on'), 15_000);
});

test.after(async () => {
  if (server.exitCode === null) server.kill('SIGKILL');
  fs.rmSync(workDir, { recursive: true, force: true });
});

test('every command answers --help with its usage and options', async () => {
  const top = await hearth(['--help']);
  assert.equal(top.code, 0);
  for (const command of ['serve', 'deploy', 'invoke', 'ls', 'workers', 'rm', 'demo']) {
    assert.match(top.stdout, new RegExp(`\\n  ${command} `));
    const help = await hearth([command, '--help']);
    assert.equal(help.code, 0, command);
    assert.match(help.stdout, new RegExp(`^usage: hearth ${command}`));
  }
  const unknown = await hearth(['frobnicate']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command "frobnicate"/);
  const badFlag = await hearth(['ls', '--colour']);
  assert.equal(badFlag.code, 2);
  assert.match(badFlag.stderr, /Unknown option '--colour'/);
});

test('deploy shows progress and uses the local token file; ls and workers list the result', async () => {
  const deployed = await hearth(['deploy', path.join(workDir, 'hearth.json')]);
  assert.equal(deployed.code, 0, deployed.stderr);
  assert.match(deployed.stderr, /misbehave: preparing go code/);
  assert.match(deployed.stdout, /misbehave: version \d+ live, no state/);
  assert.match(deployed.stdout, /echo-node: version \d+ live/);
  const list = await hearth(['ls']);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^NAME\s+KIND\s+VERSION/);
  assert.match(list.stdout, /\nmisbehave\s+go\s+\d+\s+-\s+1\.\.2\s+1\/0\/0/);
  const json = JSON.parse((await hearth(['ls', '--json'])).stdout) as { name: string }[];
  assert.deepEqual(json.map((fn) => fn.name).sort(), ['echo-node', 'misbehave']);
  const workers = await hearth(['workers', 'misbehave']);
  assert.match(workers.stdout, /^PID\s+FUNCTION/);
  assert.match(workers.stdout, /\n\d+\s+misbehave\s+\d+\s+idle/);
});

test('invoke prints the body, reads stdin, shows timing with -v, and fails with the runtime\'s message', async () => {
  const plain = await hearth(['invoke', 'misbehave', 'echo:from the cli']);
  assert.equal(plain.code, 0, plain.stderr);
  assert.equal(plain.stdout, 'from the cli');
  const stdin = await hearth(['invoke', 'echo-node', '-f', '-', '-v'], 'piped body');
  assert.equal(stdin.stdout, 'piped body');
  assert.match(stdin.stderr, /HTTP 200 (cold|warm) worker \d+ invocation \d+/);
  assert.match(stdin.stderr, /server-timing: queue;dur=/);
  const failed = await hearth(['invoke', 'misbehave', 'error']);
  assert.equal(failed.code, 1);
  assert.match(failed.stderr, /HTTP 500: misbehave: handler failed/);
  const missing = await hearth(['invoke', 'nothing']);
  assert.match(missing.stderr, /HTTP 404: no function named nothing/);
});

test('a bad manifest is refused with the file and field; a wrong token is refused', async () => {
  const bad = path.join(workDir, 'bad.json');
  fs.writeFileSync(bad, JSON.stringify({ functions: [{ name: 'x', kind: 'go', entry: '.', pool: { max: 0 } }] }));
  const result = await hearth(['deploy', bad]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, new RegExp(`${bad}: functions\\[0\\]\\.pool\\.max: must be between 1 and 1024 \\(got 0\\)`));
  const denied = await hearth(['ls', '--token', 'not-the-token']);
  assert.equal(denied.code, 1);
  assert.match(denied.stderr, /Bearer/);
});

test('rm removes a function; SIGTERM stops the runtime cleanly', async () => {
  const removed = await hearth(['rm', 'echo-node']);
  assert.equal(removed.code, 0, removed.stderr);
  assert.equal((await hearth(['invoke', 'echo-node', 'x'])).code, 1);
  const pids = JSON.parse((await hearth(['workers', '--json'])).stdout) as { pid: number }[];
  const exited = new Promise<number | null>((resolve) => server.on('exit', (code) => resolve(code)));
  server.kill('SIGTERM');
  assert.equal(await exited, 0);
  assert.match(serverLog, /SIGTERM: stopping/);
  assert.match(serverLog, /stopped/);
  for (const { pid } of pids) assert.ok(!fs.existsSync(`/proc/${pid}`), `worker ${pid} is gone`);
  const unreachable = await hearth(['invoke', 'misbehave', 'ok']);
  assert.match(unreachable.stderr, /cannot reach the runtime at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED \(is `hearth serve` running\?\)/);
  const noToken = await hearth(['ls']);
  assert.match(noToken.stderr, /no control API token: .*is `hearth serve` running on this host\?/);
});

test.run();
