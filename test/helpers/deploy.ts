// The Kubernetes manifests in deploy/, parsed, and the validator setup.sh installs for them.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ROOT } from './harness.js';

export const DEPLOY = path.join(ROOT, 'deploy');
/** Where scripts/setup.sh installs kubeconform and the schemas. */
const K8S_TOOLS = path.join(os.homedir(), '.cache/hearth/k8s');
export const KUBECONFORM = path.join(K8S_TOOLS, 'bin/kubeconform');
const SCHEMAS = path.join(K8S_TOOLS, 'schemas');

// Kubernetes objects as plain data: tests reach into them by the API's field names.
export type K8sObject = Record<string, any>;

export interface ManifestFile {
  file: string;
  objects: K8sObject[];
}

/** Every YAML file of deploy/ and the objects in it. */
export function deployManifests(): ManifestFile[] {
  return fs
    .readdirSync(DEPLOY)
    .filter((name) => /\.ya?ml$/.test(name))
    .sort()
    .map((name) => {
      const documents = parseAllDocuments(fs.readFileSync(path.join(DEPLOY, name), 'utf8'));
      for (const document of documents) if (document.errors.length > 0) throw new Error(`deploy/${name}: ${document.errors[0]!.message}`);
      return { file: name, objects: documents.map((document) => document.toJS() as K8sObject).filter((object) => object !== null) };
    });
}

export function findObject(kind: string, name: string): K8sObject {
  const found = deployManifests().flatMap((file) => file.objects).find((object) => object['kind'] === kind && object['metadata']?.['name'] === name);
  if (found === undefined) throw new Error(`deploy/ has no ${kind} ${name}`);
  return found;
}

/** The capabilities deploy/agent.yaml adds to the agent, in setpriv's spelling (",+bpf,+perfmon"). */
export function agentCapabilitiesForSetpriv(): string {
  const container = findObject('DaemonSet', 'hearth-agent')['spec']['template']['spec']['containers'][0];
  const added = container['securityContext']['capabilities']['add'] as string[];
  return added.map((name) => `,+${name.toLowerCase()}`).join('');
}

/** Kubernetes versions setup.sh fetched schemas for ("1.30.0", ...), oldest first. */
export function schemaVersions(): string[] {
  if (!fs.existsSync(SCHEMAS)) return [];
  return fs
    .readdirSync(SCHEMAS)
    .map((name) => /^v(\d+\.\d+\.\d+)-local-strict$/.exec(name)?.[1])
    .filter((version): version is string => version !== undefined)
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
}

export interface Validation {
  code: number;
  output: string;
}

/** kubeconform -strict on `paths` against the schemas of Kubernetes `version`, offline. */
export function kubeconform(version: string, paths: string[]): Promise<Validation> {
  const location = `${SCHEMAS}/{{ .NormalizedKubernetesVersion }}-local{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json`;
  return new Promise((resolve) => {
    execFile(KUBECONFORM, ['-strict', '-summary', '-kubernetes-version', version, '-schema-location', location, ...paths], (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, output: `${stdout}${stderr}` });
    });
  });
}
