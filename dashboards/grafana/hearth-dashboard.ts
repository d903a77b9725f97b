// The Hearth dashboard: invocations, cold starts and their phases, pools, GC, state, failures,
// the agent's own health, and a flame graph of any function's cold or steady-state CPU.
import type { Builder } from '@grafana/grafana-foundation-sdk/cog';
import { DashboardBuilder, DashboardCursorSync, RowBuilder, type Dashboard, type Panel } from '@grafana/grafana-foundation-sdk/dashboard';
import { PHASES } from '../../shared/phases.js';
import { tunerDecisions } from './annotations.js';
import { flameGraph } from './flamegraph.js';
import { increase, mean, ofFunctions, onHosts, quantile, rate } from './promql.js';
import { stat, timeSeries } from './panels.js';
import { agentVariable, functionVariable, hostVariable, phaseVariable, profileFunctionVariable } from './variables.js';

export const DASHBOARD_UID = 'hearth';

/** Panel ids, fixed (see PanelSpec.id); rows take the hundreds. */
const ID = {
  invocations: 1,
  errors: 2,
  latency: 3,
  coldStartRate: 4,
  workersStarted: 5,
  coldStartDuration: 6,
  coldStartPhases: 7,
  poolSizes: 8,
  queueDepth: 9,
  gcSettings: 10,
  gcShare: 11,
  stateVersions: 12,
  stateBytes: 13,
  failures: 14,
  agentEvents: 15,
  agentCpu: 16,
  agentMemory: 17,
  agentProbes: 18,
  agentFollowing: 19,
  flameGraph: 20,
} as const;

/** A row of the dashboard and the panels under it. */
interface Section {
  id: number;
  title: string;
  panels: Builder<Panel>[];
}

function sections(): Section[] {
  return [
    {
      id: 100,
      title: 'Invocations',
      panels: [
        timeSeries({
          id: ID.invocations,
          title: 'Invocations',
          description: 'Invocations answered per second, by function.',
          unit: 'reqps',
          width: 8,
          queries: [{ expr: `sum by (function) (${rate(ofFunctions('hearth_invocations_total'))})`, legend: '{{function}}' }],
        }),
        timeSeries({
          id: ID.errors,
          title: 'Errors',
          description: 'Invocations that did not succeed, by outcome (handler error, timeout, crash), and requests refused before reaching a worker (overload), by error code.',
          unit: 'reqps',
          width: 8,
          queries: [
            { expr: `sum by (function, outcome) (${rate(ofFunctions('hearth_invocations_total', 'outcome!="ok"'))})`, legend: '{{function}} {{outcome}}' },
            { expr: `sum by (function, code) (${rate(ofFunctions('hearth_rejected_total'))})`, legend: '{{function}} refused {{code}}' },
          ],
        }),
        timeSeries({
          id: ID.latency,
          title: 'Latency',
          description: 'Time from request arrival to response at the runtime, cold and warm starts together.',
          unit: 's',
          width: 8,
          queries: [
            { expr: quantile(0.5, 'hearth_invocation_duration_seconds', ['function']), legend: '{{function}} p50' },
            { expr: quantile(0.99, 'hearth_invocation_duration_seconds', ['function']), legend: '{{function}} p99' },
          ],
        }),
      ],
    },
    {
      id: 200,
      title: 'Cold starts',
      panels: [
        timeSeries({
          id: ID.coldStartRate,
          title: 'Cold-start rate',
          description: 'Share of invocations that waited for a new worker.',
          unit: 'percentunit',
          width: 8,
          queries: [
            {
              expr: `sum by (function) (${rate(ofFunctions('hearth_invocations_total', 'start="cold"'))}) / sum by (function) (${rate(ofFunctions('hearth_invocations_total'))})`,
              legend: '{{function}}',
            },
          ],
        }),
        timeSeries({
          id: ID.workersStarted,
          title: 'Workers started',
          description: 'Workers started per second, from scratch or from a stem cell, whether a request waited or the pool was filling up.',
          unit: 'ops',
          width: 8,
          queries: [{ expr: `sum by (function, path) (${rate(ofFunctions('hearth_cold_starts_total'))})`, legend: '{{function}} {{path}}' }],
        }),
        timeSeries({
          id: ID.coldStartDuration,
          title: 'Cold-start duration',
          description: 'From the runtime\'s decision to start a worker to its first response, measured by the agent in the kernel.',
          unit: 's',
          width: 8,
          queries: [
            { expr: quantile(0.5, 'hearth_coldstart_seconds', ['function']), legend: '{{function}} p50' },
            { expr: quantile(0.99, 'hearth_coldstart_seconds', ['function']), legend: '{{function}} p99' },
          ],
        }),
        timeSeries({
          id: ID.coldStartPhases,
          title: 'Cold-start phases: $function',
          description: `Mean time in each phase of a cold start (${PHASES.join(' → ')}), stacked: the bar is the mean cold start. A phase that was not observed (fork, for a worker started from a seed) counts into the next one.`,
          unit: 's',
          width: 12,
          stacked: true,
          bars: true,
          queries: [{ expr: mean('hearth_coldstart_phase_seconds', ['phase']), legend: '{{phase}}' }],
        })
          .repeat('function')
          .repeatDirection('h')
          .maxPerRow(2),
      ],
    },
    {
      id: 300,
      title: 'Pools',
      panels: [
        timeSeries({
          id: ID.poolSizes,
          title: 'Pool sizes',
          description: 'Workers per function by state. Marks: the tuner\'s decisions.',
          unit: 'short',
          width: 16,
          stacked: true,
          queries: [{ expr: `sum by (function, state) (${ofFunctions('hearth_pool_workers')})`, legend: '{{function}} {{state}}' }],
        }),
        timeSeries({
          id: ID.queueDepth,
          title: 'Queue depth',
          description: 'Requests waiting for a free worker.',
          unit: 'short',
          width: 8,
          queries: [{ expr: `sum by (function) (${ofFunctions('hearth_queue_depth')})`, legend: '{{function}}' }],
        }),
      ],
    },
    {
      id: 400,
      title: 'Garbage collection',
      panels: [
        timeSeries({
          id: ID.gcSettings,
          title: 'GC settings',
          description: 'GC settings in force, by manifest field: gogc (percent; -1 is off), memoryLimitMb, maxOldSpaceMb, maxSemiSpaceMb. A field left to the language\'s default has no line. Marks: the tuner\'s decisions.',
          unit: 'short',
          queries: [{ expr: `max by (function, setting) (${ofFunctions('hearth_function_gc_setting')})`, legend: '{{function}} {{setting}}' }],
        }),
        timeSeries({
          id: ID.gcShare,
          title: 'GC share of CPU',
          description: 'Share of each function\'s steady-state CPU samples with a collector frame on the stack, over the agent\'s last 60 s.',
          unit: 'percentunit',
          queries: [{ expr: `max by (function) (${ofFunctions('hearth_gc_cpu_share')})`, legend: '{{function}}' }],
        }),
      ],
    },
    {
      id: 500,
      title: 'State',
      panels: [
        stat({
          id: ID.stateVersions,
          title: 'State versions',
          description: 'State versions each function had in the dashboard\'s time range.',
          unit: 'short',
          width: 8,
          queries: [{ expr: `count by (function) (count_over_time(${ofFunctions('hearth_state_bytes')}[$__range]))`, legend: '{{function}}' }],
        }),
        timeSeries({
          id: ID.stateBytes,
          title: 'State mapped',
          description: 'Bytes of each function\'s current state version (one physical copy, however many workers map it), by version and backing store.',
          unit: 'bytes',
          width: 16,
          queries: [{ expr: `sum by (function, state_id, backend) (${ofFunctions('hearth_state_bytes')})`, legend: '{{function}} {{state_id}} ({{backend}})' }],
        }),
      ],
    },
    {
      id: 600,
      title: 'Failures',
      panels: [
        timeSeries({
          id: ID.failures,
          title: 'OOM kills and crashes',
          description: 'Workers killed by the OOM killer and workers that died abnormally, as the agent saw them in the kernel, and worker exits by reason as the runtime saw them.',
          unit: 'short',
          width: 24,
          bars: true,
          queries: [
            { expr: `sum by (function) (${increase(ofFunctions('hearth_agent_oom_kills_total'))})`, legend: '{{function}} OOM kill' },
            { expr: `sum by (function, kind) (${increase(ofFunctions('hearth_agent_worker_crashes_total'))})`, legend: '{{function}} crash ({{kind}})' },
            { expr: `sum by (function, reason) (${increase(ofFunctions('hearth_worker_exits_total', 'reason!="normal"'))})`, legend: '{{function}} exit: {{reason}}' },
          ],
        }),
      ],
    },
    {
      id: 700,
      title: 'Agent',
      panels: [
        timeSeries({
          id: ID.agentEvents,
          title: 'Agent: events lost',
          description: 'Kernel events lost because the ring buffer was full, and CPU samples lost because the kernel\'s sample table was full. Both should stay at 0.',
          unit: 'ops',
          width: 8,
          queries: [
            { expr: `sum by (host) (${rate(onHosts('hearth_agent_events_dropped_total'))})`, legend: '{{host}} events' },
            { expr: `sum by (host) (${rate(onHosts('hearth_profile_samples_dropped_total'))})`, legend: '{{host}} samples' },
          ],
        }),
        timeSeries({
          id: ID.agentCpu,
          title: 'Agent: CPU',
          description: 'CPU time the agent process uses, as a share of one core.',
          unit: 'percentunit',
          width: 8,
          queries: [{ expr: `sum by (host) (${rate(onHosts('hearth_agent_process_cpu_seconds_total'))})`, legend: '{{host}}' }],
        }),
        timeSeries({
          id: ID.agentMemory,
          title: 'Agent: memory',
          description: 'Resident memory of the agent process.',
          unit: 'bytes',
          width: 8,
          queries: [{ expr: `sum by (host) (${onHosts('hearth_agent_process_resident_memory_bytes')})`, legend: '{{host}}' }],
        }),
        timeSeries({
          id: ID.agentProbes,
          title: 'Agent: probe attach errors',
          description: 'Binaries whose probes could not be attached (their cold starts then lack runtime-level phases), by kind of binary.',
          unit: 'short',
          width: 16,
          bars: true,
          queries: [{ expr: `sum by (host, target) (${increase(onHosts('hearth_agent_attach_errors_total'))})`, legend: '{{host}} {{target}}' }],
        }),
        stat({
          id: ID.agentFollowing,
          title: 'Agent: following the runtime',
          description: '1 while the agent follows its runtime\'s event stream; 0 means cold starts are not being attributed.',
          unit: 'bool_yes_no',
          width: 8,
          queries: [{ expr: `min by (host) (${onHosts('hearth_agent_runtime_connected')})`, legend: '{{host}}' }],
        }),
      ],
    },
    {
      id: 800,
      title: 'Profiles',
      panels: [
        flameGraph(ID.flameGraph),
      ],
    },
  ];
}

export function hearthDashboard(): Dashboard {
  const dashboard = new DashboardBuilder('Hearth')
    .uid(DASHBOARD_UID)
    .description('Functions, cold starts, pools, GC and state from the Hearth runtime; phases, profiles and its own health from the Hearth agent.')
    .tags(['hearth'])
    .editable()
    .tooltip(DashboardCursorSync.Crosshair)
    .refresh('30s')
    .time({ from: 'now-1h', to: 'now' })
    .timezone('browser')
    .withVariable(hostVariable)
    .withVariable(functionVariable)
    .withVariable(agentVariable)
    .withVariable(profileFunctionVariable)
    .withVariable(phaseVariable)
    .annotation(tunerDecisions([ID.poolSizes, ID.gcSettings]));
  for (const section of sections()) {
    dashboard.withRow(new RowBuilder(section.title).id(section.id));
    for (const panel of section.panels) dashboard.withPanel(panel);
  }
  return dashboard.build();
}
