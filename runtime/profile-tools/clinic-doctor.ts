import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';
import { withNodeFlags, type ProfileTool } from './tool.js';

const require = createRequire(import.meta.url);

type DoctorPaths = Record<'/' | '/traceevent', string>;
interface ClinicDoctor {
  visualize(dataDir: string, outputFile: string, done: (error?: Error | null) => void): void;
}

/**
 * clinic doctor: its sampler preloaded into the worker (CPU, memory, event-loop delay and
 * handles, every 10 ms) with V8's GC trace events, then doctor's analysis and page. The
 * sampler writes its data out on SIGINT, as under `clinic doctor`. The run's directory holds
 * doctor's folder (PID.clinic-doctor/ and PID.clinic-doctor.html).
 */
export const clinicDoctor: ProfileTool = {
  instrument(launch, dir) {
    const injects = path.join(path.dirname(require.resolve('@clinic/doctor/package.json')), 'injects');
    const flags = [
      '-r', path.join(injects, 'no-cluster.js'),
      '-r', path.join(injects, 'sampler.js'),
      '--trace-events-enabled', '--trace-event-categories', 'v8',
      `--trace-event-file-pattern=${path.join(dir, 'node_trace.${rotation}.log')}`,
    ];
    const env = {
      NODE_CLINIC_DOCTOR_DATA_PATH: dir,
      NODE_CLINIC_DOCTOR_SAMPLE_INTERVAL: '10',
      NODE_CLINIC_DOCTOR_TIMEOUT_DELAY: '0',
      // Doctor samples event-loop utilisation on Node > 14.10, as every Node Hearth runs on is.
      NODE_CLINIC_DOCTOR_COLLECT_LOOP_UTILIZATION: 'true',
    };
    return { ...withNodeFlags(launch, flags, env), stopSignal: 'SIGINT' };
  },
  async finish({ dir, pid }) {
    const fromDoctor = createRequire(require.resolve('@clinic/doctor'));
    const { getLoggingPaths } = fromDoctor('@clinic/clinic-common') as { getLoggingPaths(tool: string): (options: object) => DoctorPaths };
    const paths = getLoggingPaths('doctor')({ path: dir, identifier: pid });
    const joinTrace = fromDoctor('@clinic/node-trace-log-join') as (pattern: string, output: string, done: (error?: Error | null) => void) => void;
    await promisify(joinTrace)(path.join(dir, 'node_trace.*.log'), paths['/traceevent']);
    const Doctor = fromDoctor('./index.js') as new () => ClinicDoctor;
    const doctor = new Doctor();
    await promisify(doctor.visualize.bind(doctor))(paths['/'], `${paths['/']}.html`);
    return { report: `${path.basename(paths['/'])}.html` };
  },
};
