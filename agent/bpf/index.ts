// The public face of agent/bpf. Modules outside agent/bpf import from here, never libbpf.ts.
export { BpfError } from './error.js';
export { BpfObject, BpfProgram, closeAllBpfObjects, closeAllOnSignals, openBpfObjectCount } from './object.js';
export { BpfLink } from './link.js';
export { BpfMap, BPF_ANY, BPF_EXIST, BPF_NOEXIST, MapType, perCpuU64, sumPerCpuU64, type MapEntry } from './map.js';
export { RingBuffer, type RecordHandler } from './ringbuf.js';
export { openCpuClock, openProcessClock, closePerfEvent } from './perf.js';
export { onlineCpus, possibleCpus, parseCpuList } from './cpus.js';
export { checkHost, uprobeCapabilityMissing, type HostCheck } from './preflight.js';
export { releaseFreeHeap, setSchedulerPolicy } from './libbpf.js';
