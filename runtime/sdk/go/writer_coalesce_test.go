package hearth

import (
	"os"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
)

// writesFor counts the write(2) calls a frameWriter makes for n replies queued by n
// runnable goroutines on one P, as a worker with GOMAXPROCS=1 runs the handlers of one
// read. A SOCK_SEQPACKET pair keeps each write a record of its own, so records = writes.
func writesFor(t *testing.T, n int, coalesce bool) int {
	t.Helper()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_SEQPACKET|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.SetNonblock(fds[1], true); err != nil {
		t.Fatal(err)
	}
	peer := os.NewFile(uintptr(fds[0]), "peer")
	defer peer.Close()
	ours := os.NewFile(uintptr(fds[1]), "worker")
	defer ours.Close()
	fw := newFrameWriter(ours, coalesce)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(id uint64) {
			defer wg.Done()
			if err := fw.write(typeResult, id, []byte("reply")); err != nil {
				t.Error(err)
			}
		}(uint64(i + 1))
	}
	wg.Wait()
	fw.drain()
	records, frames := 0, 0
	buf := make([]byte, 1<<16)
	peer.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	for frames < n {
		got, err := peer.Read(buf)
		if err != nil {
			t.Fatalf("after %d of %d frames: %v", frames, n, err)
		}
		records++
		frames += got / (headerSize + len("reply"))
	}
	return records
}

func TestRepliesOfOneBatchShareAWrite(t *testing.T) {
	const n = 16
	if got := writesFor(t, n, true); got > 2 {
		t.Errorf("%d replies of one batch took %d writes, want 1 or 2", n, got)
	}
	// Without the yield each handler on the single P writes its own reply.
	if got := writesFor(t, n, false); got < n/2 {
		t.Errorf("without coalescing %d replies took only %d writes; the test no longer shows the difference", n, got)
	}
}
