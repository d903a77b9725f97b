// Symbolisation of sampled stacks: instruction pointers to the frames of the profile model.
export { Symbolizer, ANONYMOUS_MODULE, UNKNOWN_NAME, UNMAPPED_MODULE, type ResolveHint, type SymbolizerOptions } from './symbolizer.js';
export { KernelSymbols, UNKNOWN_KERNEL_FRAME } from './kallsyms.js';
export { MapsSnapshot, parseProcMaps, type Mapping, type MappingKind } from './proc-maps.js';
export { BinarySymbols, BinarySymbolsCache } from './elf-symbols.js';
export { PerfMap, jitFrame, JIT_MODULE } from './perf-map.js';
export { demangle } from './demangle.js';
export { SymbolSourceFormatError } from './errors.js';
