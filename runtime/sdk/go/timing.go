package hearth

import (
	"fmt"
	"os"
	"syscall"
	"unsafe"
)

// Timing test mode. With HEARTH_SDK_TIMING=1 the SDK prints, once READY is out, its own
// CLOCK_MONOTONIC readings on one stderr line:
//
//	hearth-sdk-timing main=<ns> state=<ns> ready=<ns>
//
// main is read when this package initialises (for a main package without init functions of
// its own, just before main.main), state just before the state-mapped marker, ready just
// before READY is written. Tests compare them with the boundaries the agent measures in the
// kernel on the same calls (bpf_ktime_get_ns reads the same clock). Off, it costs a few
// clock readings per process.
var sdkClock = struct {
	main, state, ready int64
}{main: monotonic()}

func monotonic() int64 {
	var ts syscall.Timespec
	// CLOCK_MONOTONIC (1): time.Now's monotonic reading is not exposed as a raw value.
	syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, 1, uintptr(unsafe.Pointer(&ts)), 0)
	return ts.Nano()
}

func reportTiming() {
	if os.Getenv("HEARTH_SDK_TIMING") == "1" {
		fmt.Fprintf(os.Stderr, "hearth-sdk-timing main=%d state=%d ready=%d\n", sdkClock.main, sdkClock.state, sdkClock.ready)
	}
}
