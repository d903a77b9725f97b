// A hand-built CPU profile whose every total is known, for the export format tests: Go frames
// with file:line (one function sampled at two lines), kernel frames, an unknown frame in a
// library and one in no known module, a name with `;`, a newline and `</script>`, and the same
// stack in two workers.
import type { Frame, Profile, ProfileSample } from '../../agent/profile/model.js';

const GO_BINARY = '/srv/hearth/lookup';

function goFrame(name: string, file: string, line: number): Frame {
  return { name, module: GO_BINARY, kind: 'go', file, line };
}

export const FRAMES = {
  runtimeMain: goFrame('runtime.main', '/usr/local/go/src/runtime/proc.go', 283),
  mainMain: goFrame('main.main', '/src/lookup/main.go', 12),
  compute: goFrame('main.compute', '/src/lookup/main.go', 40),
  computeNextLine: goFrame('main.compute', '/src/lookup/main.go', 41),
  syscall: goFrame('syscall.Syscall', '/usr/local/go/src/syscall/syscall_linux.go', 74),
  entrySyscall: { name: 'entry_SYSCALL_64', module: '[kernel]', kind: 'kernel' },
  doSyscall: { name: 'do_syscall_64', module: '[kernel]', kind: 'kernel' },
  unknownInLibrary: { name: '[unknown]', module: '/usr/lib/x86_64-linux-gnu/libfoo.so', kind: 'unknown' },
  awkward: { name: 'weird;name\nwith</script>', module: '/usr/lib/libbar.so', kind: 'native' },
  startThread: { name: 'start_thread', module: '/usr/lib/x86_64-linux-gnu/libc.so.6', kind: 'native' },
  unknownNowhere: { name: '[unknown]', module: '[unknown]', kind: 'unknown' },
} satisfies Record<string, Frame>;

/** One sampling period: 10 ms (100 Hz). */
export const PERIOD_NS = 10_000_000;
export const START_UNIX_MS = 1_700_000_000_123;
export const DURATION_MS = 2_500;

function sample(pid: number, count: number, ...stack: Frame[]): ProfileSample {
  return { stack, count, labels: { function: 'lookup', phase: 'cold', pid } };
}

const { runtimeMain, mainMain, compute, computeNextLine, syscall, entrySyscall, doSyscall, unknownInLibrary, awkward, startThread, unknownNowhere } = FRAMES;

/** 14 samples in workers 101 and 102. */
export const SAMPLES: ProfileSample[] = [
  sample(101, 5, runtimeMain, mainMain, compute),
  sample(102, 2, runtimeMain, mainMain, compute),
  sample(101, 1, runtimeMain, mainMain, computeNextLine),
  sample(101, 3, runtimeMain, mainMain, syscall, entrySyscall, doSyscall),
  sample(102, 2, runtimeMain, unknownInLibrary, awkward),
  sample(102, 1, startThread, unknownNowhere),
];

export const TOTAL_SAMPLES = 14;

export function fixtureProfile(): Profile {
  return { function: 'lookup', phase: 'cold', frequencyHz: 100, periodNs: PERIOD_NS, startUnixMs: START_UNIX_MS, durationMs: DURATION_MS, samples: SAMPLES };
}
