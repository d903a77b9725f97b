package hearth

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"
	"unsafe"
)

var (
	stateOnce sync.Once
	stateMem  []byte
)

// State returns the function's state: HEARTH_STATE_SIZE bytes mapped
// read-only and shared from the fd the runtime passes as HEARTH_STATE_FD, so
// every worker of a function reads the same physical pages. Writing to it
// faults. State returns nil when the function has no state.
//
// The first call maps it (Serve does so before READY, so calling State
// before Serve, e.g. to build an index in main, is fine). Pages are faulted
// in lazily as they are read, which keeps a cold start free of work
// proportional to the state size; HEARTH_STATE_POPULATE=1 maps them all up
// front instead. An unusable state fd is fatal: the worker logs why and
// exits 1.
func State() []byte {
	stateOnce.Do(func() {
		sc, err := stateConfigFromEnv(os.LookupEnv)
		if err != nil {
			fatalf("%v", err)
		}
		if sc.fd < 0 {
			sdkClock.state = monotonic()
			markStateMapped(0, 0) // no state: the phase ends where it starts
			return
		}
		var mem []byte
		timeState(func() {
			mem, err = mapState(sc.fd, sc.size, sc.populate)
			sdkClock.state = monotonic()
		})
		if err != nil {
			fatalf("%v", err)
		}
		stateMem = mem
		var addr uintptr
		if len(mem) > 0 {
			addr = uintptr(unsafe.Pointer(&mem[0]))
		}
		markStateMapped(addr, sc.size)
	})
	return stateMem
}

type stateConfig struct {
	fd       int // -1: the function has no state
	size     uint64
	populate bool
}

func stateConfigFromEnv(lookup func(string) (string, bool)) (stateConfig, error) {
	sc := stateConfig{fd: -1}
	v, set := lookup("HEARTH_STATE_FD")
	if !set {
		return sc, nil
	}
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 0 {
		return sc, fmt.Errorf("HEARTH_STATE_FD=%q is not a file descriptor number", v)
	}
	v, set = lookup("HEARTH_STATE_SIZE")
	if !set {
		return sc, fmt.Errorf("HEARTH_STATE_SIZE is not set (HEARTH_STATE_FD=%d is)", fd)
	}
	size, err := strconv.ParseUint(v, 10, 64)
	if err != nil || size > uint64(maxInt) {
		return sc, fmt.Errorf("HEARTH_STATE_SIZE=%q is not a byte count", v)
	}
	if v, set := lookup("HEARTH_STATE_POPULATE"); set && v != "" && v != "0" {
		if v != "1" {
			return sc, fmt.Errorf("HEARTH_STATE_POPULATE=%q: want 1 or 0", v)
		}
		sc.populate = true
	}
	sc.fd, sc.size = fd, size
	return sc, nil
}

const maxInt = int(^uint(0) >> 1)

// mapState maps size bytes of fd read-only and shared. The mapping covers the
// whole file, which may be longer than size (hugetlbfs rounds files up to the
// huge page size and mmap must cover whole huge pages), and is sliced to size.
func mapState(fd int, size uint64, populate bool) ([]byte, error) {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("HEARTH_STATE_FD=%d: fstat: %w", fd, err)
	}
	if st.Size < 0 || uint64(st.Size) < size {
		return nil, fmt.Errorf("HEARTH_STATE_FD=%d is %d bytes, shorter than HEARTH_STATE_SIZE=%d", fd, st.Size, size)
	}
	if size == 0 {
		return []byte{}, nil
	}
	if uint64(st.Size) > uint64(maxInt) {
		return nil, fmt.Errorf("HEARTH_STATE_FD=%d is %d bytes, too large to map", fd, st.Size)
	}
	flags := syscall.MAP_SHARED
	if populate {
		flags |= syscall.MAP_POPULATE
	}
	mem, err := syscall.Mmap(fd, 0, int(st.Size), syscall.PROT_READ, flags)
	if err != nil {
		return nil, fmt.Errorf("HEARTH_STATE_FD=%d: mmap %d bytes read-only: %w", fd, st.Size, err)
	}
	return mem[:size:size], nil
}
