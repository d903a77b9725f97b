// The fuzz targets: what each one feeds, the module that does it, and the source files whose
// coverage guides it. This file imports no code under test, so that the fuzzer can install
// its instrumentation before any of that code loads.

export interface TargetInfo {
  name: string;
  description: string;
  /** The target's module, relative to this folder (compiled). */
  module: string;
  /** Source files (repository-relative) instrumented for coverage. */
  instrument: string[];
}

export const TARGETS: readonly TargetInfo[] = [
  {
    name: 'ipc-runtime',
    description: 'worker → runtime byte stream, split anywhere, through the runtime\'s FrameDecoder and payload decoders (READY, RESULT, ERROR, CONTROL_REPLY)',
    module: './ipc-runtime.js',
    instrument: ['runtime/ipc/frame.ts'],
  },
  {
    name: 'ipc-node-sdk',
    description: 'runtime → worker byte stream through the Node SDK\'s InvokeLoop (INVOKE, CONTROL, SHUTDOWN), and a stem cell\'s SPECIALISE decoder',
    module: './ipc-node-sdk.js',
    instrument: ['runtime/ipc/frame.ts', 'runtime/ipc/channel.ts', 'runtime/sdk/node/loop.ts', 'runtime/sdk/node/stem.ts'],
  },
  {
    name: 'manifest',
    description: 'hearth.json text through parseManifest: every field, default and error',
    module: './manifest.js',
    instrument: ['runtime/manifest/parse.ts'],
  },
  {
    name: 'runtime-api',
    description: 'the runtime API\'s input parsers in-process: invoke and events queries; deploy, configure, profile and ack bodies',
    module: './runtime-api.js',
    instrument: ['runtime/api/control.ts', 'runtime/api/invoke.ts', 'runtime/api/respond.ts', 'runtime/manifest/parse.ts', 'runtime/profile-tools/request.ts'],
  },
  {
    name: 'runtime-http',
    description: 'raw HTTP requests over loopback to the runtime\'s real API server in-process (one echo function behind it)',
    module: './runtime-http.js',
    instrument: ['runtime/api/server.ts', 'runtime/api/control.ts', 'runtime/api/invoke.ts', 'runtime/api/respond.ts', 'runtime/api/tool-profiles.ts', 'runtime/manifest/parse.ts', 'runtime/profile-tools/request.ts'],
  },
  {
    name: 'agent-faro',
    description: 'the agent\'s Faro payload validator (POST /collect bodies) in-process',
    module: './agent-faro.js',
    instrument: ['agent/exporters/faro-payload.ts'],
  },
  {
    name: 'agent-http',
    description: 'raw HTTP requests over loopback to the agent\'s real API server in-process: routes, queries, the web UI, POST /collect',
    module: './agent-http.js',
    instrument: ['agent/exporters/api.ts', 'agent/exporters/faro-collector.ts', 'agent/exporters/faro-payload.ts', 'agent/exporters/profiles-api.ts', 'agent/exporters/pool-api.ts', 'agent/exporters/ui-assets.ts', 'agent/exporters/reply.ts'],
  },
  {
    name: 'agent-events',
    description: 'the agent\'s event decoders: ring-buffer records (decodeEvent) and the runtime\'s NDJSON event stream (line reader, parseRuntimeEvent), each into the phase tracker',
    module: './agent-events.js',
    instrument: ['agent/probes/events.ts', 'agent/runtime-client.ts', 'shared/events.ts', 'shared/ndjson.ts', 'agent/phases/tracker.ts'],
  },
];

export function targetNamed(name: string): TargetInfo {
  const info = TARGETS.find((target) => target.name === name);
  if (info === undefined) throw new Error(`no fuzz target named ${JSON.stringify(name)} (targets: ${TARGETS.map((target) => target.name).join(', ')})`);
  return info;
}
