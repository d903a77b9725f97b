package hearth

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"unsafe"
)

// Timing test mode. With HEARTH_SDK_TIMING=1 the SDK prints, once READY is out, its own
// CLOCK_MONOTONIC readings on one stderr line:
//
//	hearth-sdk-timing main=<ns> state=<ns> ready=<ns> main_wait=<ns> state_wait=<ns> ready_wait=<ns>
//
// main is read when this package initialises (for a main package without init functions of
// its own, just before main.main), state just after the state's mmap returns, ready just
// before READY is written. Tests compare them with the boundaries the agent measures in the
// kernel on the same calls (bpf_ktime_get_ns reads the same clock). A reading and its
// boundary are moments apart unless another task has the CPU in between, so the line also
// says how long the thread waited for a CPU (run_delay in /proc/thread-self/schedstat; -1
// when unknown): main_wait from just before the main reading to just before the state's mmap
// (main.main starts in that span), state_wait from just before that mmap to just after the state
// reading, ready_wait from just before the ready reading to just after READY's write (a read
// of run_delay between the reading and the write would itself widen their gap). Off, it
// costs a few clock readings per process.
var timingMode = os.Getenv("HEARTH_SDK_TIMING") == "1"

// The thread and its wait for a CPU just before the main reading (package variables are
// initialised in the order declared here, on the main thread).
var mainThread, mainRunDelay = timingThread()

var sdkClock = struct {
	main, state, ready, mainWait, stateWait, readyWait int64
}{main: monotonic(), mainWait: -1, stateWait: -1, readyWait: -1}

func timingThread() (tid int, delay int64) {
	if !timingMode {
		return -1, -1
	}
	return syscall.Gettid(), runDelay()
}

func monotonic() int64 {
	var ts syscall.Timespec
	// CLOCK_MONOTONIC (1): time.Now's monotonic reading is not exposed as a raw value.
	syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, 1, uintptr(unsafe.Pointer(&ts)), 0)
	return ts.Nano()
}

// runDelay is the time this thread has spent runnable but waiting for a CPU, in ns; -1 when
// it cannot be read.
func runDelay() int64 {
	b, err := os.ReadFile("/proc/thread-self/schedstat")
	if err != nil {
		return -1
	}
	fields := strings.Fields(string(b))
	if len(fields) < 2 {
		return -1
	}
	n, err := strconv.ParseInt(fields[1], 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// timeState runs mapping, which ends with the state reading, on one thread; in timing mode it
// records that thread's waits for a CPU since the main reading and over the mapping.
func timeState(mapping func()) {
	if !timingMode {
		mapping()
		return
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before := runDelay()
	// The span since the main reading ends here, if on the thread it began on.
	if syscall.Gettid() == mainThread && mainRunDelay >= 0 && before >= mainRunDelay {
		sdkClock.mainWait = before - mainRunDelay
	}
	mapping()
	sdkClock.stateWait = waitSince(before)
}

// timeReady takes the ready reading right before send, which writes READY, on one thread; in
// timing mode it records that thread's waits for a CPU around them.
func timeReady(send func() error) error {
	if !timingMode {
		sdkClock.ready = monotonic()
		return send()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before := runDelay()
	sdkClock.ready = monotonic()
	err := send()
	sdkClock.readyWait = waitSince(before)
	return err
}

// waitSince is this thread's wait for a CPU since an earlier runDelay reading; -1 when unknown.
func waitSince(before int64) int64 {
	if after := runDelay(); before >= 0 && after >= before {
		return after - before
	}
	return -1
}

func reportTiming() {
	if timingMode {
		fmt.Fprintf(os.Stderr, "hearth-sdk-timing main=%d state=%d ready=%d main_wait=%d state_wait=%d ready_wait=%d\n", sdkClock.main, sdkClock.state, sdkClock.ready, sdkClock.mainWait, sdkClock.stateWait, sdkClock.readyWait)
	}
}
