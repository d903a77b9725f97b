// Command trace-sleep stands in for a function of a replayed trace in the tuner benchmark:
// each request's body is the execution time to spend, in microseconds, and the worker holds
// the private memory its environment asks for (TRACE_MEMORY_KB), so that an idle worker costs
// what the trace's function costs, scaled down.
//
// The memory is one private anonymous mapping, populated by the kernel when it is made
// (MAP_POPULATE: no page fault per page) before the worker reports ready, so it is part of the
// cold start, as a real function's initialisation would be.
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"

	hearth "hearth.local/sdk"
)

// ballast keeps the held memory mapped for the life of the worker.
var ballast []byte

func main() {
	if text := os.Getenv("TRACE_MEMORY_KB"); text != "" {
		kb, err := strconv.Atoi(text)
		if err != nil || kb < 0 {
			fmt.Fprintf(os.Stderr, "trace-sleep: TRACE_MEMORY_KB must be a whole number of KiB, got %q\n", text)
			os.Exit(2)
		}
		held, err := hold(kb << 10)
		if err != nil {
			fmt.Fprintf(os.Stderr, "trace-sleep: holding %d KiB: %v\n", kb, err)
			os.Exit(2)
		}
		ballast = held
	}
	hearth.Serve(handle)
}

// hold maps size bytes of private memory, every page of it resident.
func hold(size int) ([]byte, error) {
	if size == 0 {
		return nil, nil
	}
	return syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON|syscall.MAP_POPULATE)
}

func handle(ctx context.Context, req []byte) ([]byte, error) {
	us, err := strconv.Atoi(string(req))
	if err != nil || us < 0 {
		return nil, fmt.Errorf("the body must be the execution time in microseconds, got %q", req)
	}
	timer := time.NewTimer(time.Duration(us) * time.Microsecond)
	defer timer.Stop()
	select {
	case <-timer.C:
		return []byte("ok"), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
