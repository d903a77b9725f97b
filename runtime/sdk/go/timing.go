package hearth

import (
	"fmt"
	"os"
	"syscall"
	"unsafe"
)

// Timing test mode. With HEARTH_SDK_TIMING=1 the SDK takes its own CLOCK_MONOTONIC
// readings when Serve starts, when the state is mapped and just before READY is written,
// and prints them on one stderr line after READY:
//
//	hearth-sdk-timing main=<ns> state=<ns> ready=<ns>
//
// Tests compare them with the boundaries the agent measures in the kernel (same clock as
// bpf_ktime_get_ns). Off, it costs one environment lookup.
type timing struct {
	on                 bool
	main, state, ready int64
}

func newTiming() *timing {
	t := &timing{on: os.Getenv("HEARTH_SDK_TIMING") == "1"}
	t.main = t.now()
	return t
}

func (t *timing) now() int64 {
	if !t.on {
		return 0
	}
	var ts syscall.Timespec
	// CLOCK_MONOTONIC (1): time.Now's monotonic reading is not exposed as a raw value.
	syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, 1, uintptr(unsafe.Pointer(&ts)), 0)
	return ts.Nano()
}

func (t *timing) report() {
	if t.on {
		fmt.Fprintf(os.Stderr, "hearth-sdk-timing main=%d state=%d ready=%d\n", t.main, t.state, t.ready)
	}
}
