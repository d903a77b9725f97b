// 0x's ticks (ticks.json: V8's --prof samples after 0x's processing, each a stack of the code
// objects V8 logged, root first) in Hearth's profile model, so a 0x run exports like the
// agent's own profiles.
import type { Frame, Profile, ProfileSample } from './model.js';
import { JIT_MODULE, jitFrame } from './symbolize/perf-map.js';

/** One frame of a tick: a code object as `node --prof-process --preprocess` describes it. */
export interface TickFrame {
  name: string;
  /** JS (a JavaScript function), CODE (V8's builtins, stubs, regular expressions), CPP (C++ and C), SHARED_LIB (a library, unnamed inside). */
  type: string;
}

export interface TicksSource {
  function: string;
  /** The profiled worker. */
  pid: number;
  /** V8's sampling rate. */
  hz: number;
  startUnixMs: number;
  durationMs: number;
}

/** Where a C++ or C function named by V8's log lives is not in the tick: Node or a library it loaded. */
const NATIVE_MODULE = '[native]';
const UNKNOWN = '[unknown]';

/** The ticks as one steady-state profile of the worker; ticks with no stack (the thread was idle) are left out. */
export function profileFromTicks(ticks: TickFrame[][], source: TicksSource): Profile {
  const frames = new Map<string, Frame>();
  const frameOf = (tick: TickFrame): Frame => {
    const key = `${tick.type}\n${tick.name}`;
    let frame = frames.get(key);
    if (frame === undefined) frames.set(key, (frame = toFrame(tick)));
    return frame;
  };
  const samples = new Map<string, ProfileSample>();
  const labels = { function: source.function, phase: 'steady' as const, pid: source.pid };
  for (const tick of ticks) {
    if (tick.length === 0) continue;
    const key = tick.map((frame) => `${frame.type}\n${frame.name}`).join('\n\n');
    const sample = samples.get(key);
    if (sample === undefined) samples.set(key, { stack: tick.map(frameOf), count: 1, labels });
    else sample.count++;
  }
  return {
    function: source.function,
    phase: 'steady',
    frequencyHz: source.hz,
    periodNs: 1e9 / source.hz,
    startUnixMs: source.startUnixMs,
    durationMs: source.durationMs,
    samples: [...samples.values()],
  };
}

function toFrame({ type, name }: TickFrame): Frame {
  switch (type) {
    case 'JS':
      // V8 logs a function as `name location`, as its perf maps do: name it the same way.
      return jitFrame(`JS:${name}`);
    case 'CODE':
      return { name, module: JIT_MODULE, kind: 'native' };
    case 'CPP':
      // The log's C symbols carry their symbol version (`__write@@GLIBC_2.2.5`).
      return { name: name.replace(/@@?[\w.]+$/, ''), module: NATIVE_MODULE, kind: 'native' };
    case 'SHARED_LIB':
      return { name: UNKNOWN, module: name, kind: 'unknown' };
    default:
      return { name: name === '' ? UNKNOWN : name, module: UNKNOWN, kind: 'unknown' };
  }
}
