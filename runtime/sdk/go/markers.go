package hearth

import "sync/atomic"

// Probe markers.
//
// These functions do nothing useful for the worker: they exist so that an
// eBPF agent can attach entry uprobes to them by symbol name and learn when a
// worker reaches each phase without any cooperation at run time. The ELF
// symbols are
//
//	hearth.local/sdk.markStateMapped  (addr in RAX, size in RBX on amd64; 0, 0 without state)
//	hearth.local/sdk.markReady        (just before READY is written)
//	hearth.local/sdk.markInvokeStart  (id in RAX; before the handler runs)
//	hearth.local/sdk.markInvokeEnd    (id in RAX; after the reply is written)
//
// Arguments follow Go's register ABI (ABIInternal). Probe entries only: a
// uretprobe rewrites the return address on a goroutine stack that Go may
// move, which crashes the worker.
//
// Each is kept out of line and given an effect (a store to markerSink) so
// neither the compiler nor the linker can drop it or the call to it. Keep
// the names and signatures stable: the agent looks them up by name.

var markerSink atomic.Uint64

//go:noinline
func markStateMapped(addr uintptr, size uint64) {
	markerSink.Store(uint64(addr) ^ size)
}

//go:noinline
func markReady() {
	markerSink.Store(1)
}

//go:noinline
func markInvokeStart(id uint64) {
	markerSink.Store(id)
}

//go:noinline
func markInvokeEnd(id uint64) {
	markerSink.Store(^id)
}
