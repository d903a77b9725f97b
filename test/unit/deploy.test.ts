// deploy/, the Kubernetes manifests: every object valid against Kubernetes' own schemas
// (kubeconform -strict, offline, for the oldest and newest Kubernetes supported), the
// monitoring ConfigMaps exactly what dashboards/grafana renders now, and the objects wired to
// each other (Services to pods and ports, Prometheus's jobs to pod labels, the token Secret).
// A broken manifest must fail the validator: the negative cases below prove it can.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import { stringify } from 'yaml';
import { renderKubernetes } from '../../dashboards/grafana/kubernetes.js';
import { AGENT_JOB, KUBERNETES_PORT_NAME, RUNTIME_JOB } from '../../dashboards/grafana/scrape-config.js';
import { DEPLOY, KUBECONFORM, deployManifests, findObject, kubeconform, schemaVersions, type K8sObject } from '../helpers/deploy.js';
import { ROOT } from '../helpers/harness.js';

const versions = schemaVersions();
const setupHint = 'run bash scripts/setup.sh, which installs kubeconform and the schemas into ~/.cache/hearth/k8s';

function podSpec(daemonSet: K8sObject): K8sObject {
  return daemonSet['spec']['template']['spec'];
}

/** A copy of deploy/agent.yaml's DaemonSet, changed by `edit`, written to a scratch file. */
function brokenAgent(edit: (daemonSet: K8sObject) => void): string {
  const daemonSet = structuredClone(findObject('DaemonSet', 'hearth-agent'));
  edit(daemonSet);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-deploy-'));
  const file = path.join(dir, 'agent.yaml');
  fs.writeFileSync(file, stringify(daemonSet));
  return file;
}

test('the validator and the schemas are installed', () => {
  assert.ok(fs.existsSync(KUBECONFORM), `${KUBECONFORM} is missing: ${setupHint}`);
  assert.ok(versions.length >= 2, `schemas for at least two Kubernetes versions, found ${versions.join(', ') || 'none'}: ${setupHint}`);
});

test('every manifest is valid for each Kubernetes version, strictly, and none is skipped', async () => {
  const objects = deployManifests().reduce((sum, file) => sum + file.objects.length, 0);
  for (const version of versions) {
    const result = await kubeconform(version, [DEPLOY]);
    assert.equal(result.code, 0, `Kubernetes ${version}:\n${result.output}`);
    assert.match(result.output, new RegExp(`Summary: ${objects} resources found in \\d+ files - Valid: ${objects}, Invalid: 0, Errors: 0, Skipped: 0`), result.output);
  }
});

test('a misspelled field, a wrong type and an unknown kind each fail validation', async () => {
  const version = versions[versions.length - 1]!;
  const cases: [string, (daemonSet: K8sObject) => void, RegExp][] = [
    ['misspelled field', (ds) => (podSpec(ds)['containers'][0]['securityContext']['capabilites'] = { add: ['BPF'] }), /additional properties 'capabilites' not allowed/],
    ['wrong type', (ds) => (podSpec(ds)['containers'][0]['ports'][0]['containerPort'] = 'http'), /containerPort.*got string, want (integer|null)/],
    ['unknown kind', (ds) => (ds['kind'] = 'DaemonSett'), /could not find schema for DaemonSett/],
  ];
  for (const [what, edit, message] of cases) {
    const file = brokenAgent(edit);
    try {
      const result = await kubeconform(version, [file]);
      assert.notEqual(result.code, 0, `${what} passed validation:\n${result.output}`);
      assert.match(result.output, message, `${what}: ${result.output}`);
      assert.match(result.output, /Skipped: 0/, `${what} must fail, not be skipped`);
    } finally {
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
    }
  }
});

test('the monitoring ConfigMaps are what dashboards/grafana renders now', () => {
  for (const file of renderKubernetes()) {
    const committed = fs.readFileSync(path.join(ROOT, file.path), 'utf8');
    assert.ok(committed === file.content, `${file.path} differs from a fresh render: run npm run render-deploy and commit it`);
  }
});

test('Services select the pods and ports that exist', () => {
  const daemonSets = deployManifests().flatMap((file) => file.objects).filter((object) => object['kind'] === 'DaemonSet');
  const services = deployManifests().flatMap((file) => file.objects).filter((object) => object['kind'] === 'Service');
  assert.ok(services.length >= 3);
  for (const service of services) {
    const selector = service['spec']['selector'] as Record<string, string>;
    const target = daemonSets.find((ds) => Object.entries(selector).every(([key, value]) => ds['spec']['template']['metadata']['labels'][key] === value));
    assert.ok(target !== undefined, `Service ${service['metadata']['name']} selects no pods`);
    const ports = (podSpec(target)['containers'] as K8sObject[]).flatMap((container) => container['ports'] as K8sObject[]);
    for (const port of service['spec']['ports'] as K8sObject[]) assert.ok(ports.some((item) => item['name'] === port['targetPort']), `Service ${service['metadata']['name']}: no container port ${port['targetPort']}`);
  }
});

test('Prometheus\'s jobs keep exactly the runtime and agent pods, on their API port', () => {
  for (const job of [RUNTIME_JOB, AGENT_JOB]) {
    const daemonSet = findObject('DaemonSet', job);
    assert.equal(daemonSet['spec']['template']['metadata']['labels']['app.kubernetes.io/name'], job);
    const ports = podSpec(daemonSet)['containers'][0]['ports'] as K8sObject[];
    assert.ok(ports.some((port) => port['name'] === KUBERNETES_PORT_NAME), `${job} has a port named ${KUBERNETES_PORT_NAME}`);
  }
  const config = findObject('ConfigMap', 'hearth-prometheus')['data']['prometheus.yml'] as string;
  assert.match(config, new RegExp(`regex: ${RUNTIME_JOB};${KUBERNETES_PORT_NAME}`));
  assert.match(config, new RegExp(`regex: ${AGENT_JOB};${KUBERNETES_PORT_NAME}`));
});

test('the agent reaches its own node\'s runtime with the token the runtime reads', () => {
  const runtime = podSpec(findObject('DaemonSet', 'hearth-runtime'));
  const agent = podSpec(findObject('DaemonSet', 'hearth-agent'));
  assert.equal(runtime['hostPID'], true, 'the runtime reports host pids');
  assert.equal(agent['hostPID'], true, 'the agent sees the runtime\'s workers');
  const args = agent['containers'][0]['args'] as string[];
  const url = new URL(args[args.indexOf('--runtime') + 1]!);
  const service = findObject('Service', url.hostname.split('.')[0]!);
  assert.equal(service['spec']['internalTrafficPolicy'], 'Local', 'only the runtime on the agent\'s node');
  assert.equal(Number(url.port), service['spec']['ports'][0]['port']);
  const runtimeArgs = runtime['containers'][0]['args'] as string[];
  assert.equal(runtimeArgs[runtimeArgs.indexOf('--port') + 1], String(runtime['containers'][0]['ports'][0]['containerPort']));
  const tokenFile = runtimeArgs[runtimeArgs.indexOf('--token-file') + 1]!;
  const mount = (runtime['containers'][0]['volumeMounts'] as K8sObject[]).find((item) => tokenFile.startsWith(`${item['mountPath']}/`))!;
  const volume = (runtime['volumes'] as K8sObject[]).find((item) => item['name'] === mount['name'])!;
  const env = (agent['containers'][0]['env'] as K8sObject[]).find((item) => item['name'] === 'HEARTH_TOKEN')!;
  assert.equal(env['valueFrom']['secretKeyRef']['name'], volume['secret']['secretName']);
  assert.equal(env['valueFrom']['secretKeyRef']['key'], path.basename(tokenFile));
  const capabilities = agent['containers'][0]['securityContext']['capabilities'];
  assert.deepEqual(capabilities['drop'], ['ALL']);
  assert.notEqual(agent['containers'][0]['securityContext']['privileged'], true);
});

test.run();
