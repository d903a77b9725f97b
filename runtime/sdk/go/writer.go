package hearth

import (
	"os"
	"runtime"
	"sync"
	"syscall"
	"unsafe"
)

// frameWriter writes whole frames so that replies from concurrent handlers never
// interleave on the socket, and coalesces them: while one goroutine is in write(2),
// frames from others queue behind it and leave in its next write. With concurrent
// handlers the first reply of a batch also yields once before it writes, so the
// handlers already runnable (the rest of the INVOKE frames of one read) queue their
// replies first; with one P that is what makes replies share a write at all. A write
// that wakes the runtime costs 10-30 µs on a small VM, so under load one syscall
// carries many replies instead of one each.
type frameWriter struct {
	f        *os.File
	mu       sync.Mutex
	idle     *sync.Cond // signalled when nothing is queued or being written
	pending  []byte     // whole frames waiting for the current writer
	spare    []byte
	flushing bool
	// coalesce: yield before the first write of a batch; scheduled: a goroutine is
	// in that yield and will write what is queued.
	coalesce  bool
	scheduled bool
	err       error // the first write error; the channel is broken after it
}

func newFrameWriter(f *os.File, coalesce bool) *frameWriter {
	fw := &frameWriter{f: f, coalesce: coalesce}
	fw.idle = sync.NewCond(&fw.mu)
	return fw
}

// Frames up to this size are copied behind their header; larger ones go out with
// writev rather than being copied.
const copyLimit = 64 << 10

// write queues one frame and, unless another goroutine is already writing, writes
// everything queued. It returns the channel's write error, if there has been one.
func (fw *frameWriter) write(typ uint8, id uint64, payload []byte) error {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	if fw.err != nil {
		return fw.err
	}
	if len(payload) > copyLimit {
		for fw.flushing {
			fw.idle.Wait()
		}
		fw.flushing = true
		queued := fw.pending
		fw.pending = nil
		fw.mu.Unlock()
		var hdr [headerSize]byte
		putHeader(hdr[:], typ, id, len(payload))
		err := writev(fw.f, queued, hdr[:])
		if err == nil {
			err = writev(fw.f, nil, payload)
		}
		fw.mu.Lock()
		fw.finish(err)
		return fw.err
	}
	start := len(fw.pending)
	fw.pending = append(fw.pending, make([]byte, headerSize)...)
	putHeader(fw.pending[start:], typ, id, len(payload))
	fw.pending = append(fw.pending, payload...)
	if fw.flushing || fw.scheduled {
		return nil // the goroutine writing (or about to) takes this frame in its next write
	}
	if fw.coalesce {
		fw.scheduled = true
		fw.mu.Unlock()
		runtime.Gosched()
		fw.mu.Lock()
		fw.scheduled = false
		if fw.flushing || len(fw.pending) == 0 {
			return fw.err // a large frame's writer took the queue with it
		}
	}
	fw.flushing = true
	for len(fw.pending) > 0 && fw.err == nil {
		buf := fw.pending
		fw.pending = fw.spare[:0]
		fw.mu.Unlock()
		_, err := fw.f.Write(buf)
		fw.mu.Lock()
		fw.spare = buf[:0]
		if err != nil {
			fw.err = err
		}
	}
	fw.finish(fw.err)
	return fw.err
}

func (fw *frameWriter) finish(err error) {
	if err != nil && fw.err == nil {
		fw.err = err
	}
	fw.flushing = false
	fw.idle.Broadcast()
}

// drain waits until every queued frame has been written (or the channel broke).
func (fw *frameWriter) drain() {
	fw.mu.Lock()
	for fw.flushing || fw.scheduled || (len(fw.pending) > 0 && fw.err == nil) {
		fw.idle.Wait()
	}
	fw.mu.Unlock()
}

// writev writes a then b with as few syscalls as the kernel allows.
func writev(f *os.File, a, b []byte) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var werr error
	err = rc.Write(func(fd uintptr) bool {
		for len(a)+len(b) > 0 {
			var iov [2]syscall.Iovec
			n := 0
			for _, p := range [2][]byte{a, b} {
				if len(p) > 0 {
					iov[n].Base = &p[0]
					iov[n].SetLen(len(p))
					n++
				}
			}
			r, _, e := syscall.Syscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&iov[0])), uintptr(n))
			switch {
			case e == syscall.EINTR:
				continue
			case e == syscall.EAGAIN:
				return false // non-blocking fd: wait until writable, then resume
			case e != 0:
				werr = e
				return true
			}
			written := int(r)
			if written >= len(a) {
				written -= len(a)
				a, b = nil, b[written:]
			} else {
				a = a[written:]
			}
		}
		return true
	})
	if err != nil {
		return err
	}
	return werr
}
