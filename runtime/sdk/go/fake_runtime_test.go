package hearth

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"io"
	"os"
	"syscall"
	"testing"
	"time"
)

// fakeRuntime plays the runtime's side of one worker's socketpair.
type fakeRuntime struct {
	t  *testing.T
	f  *os.File
	rd *bufio.Reader
}

type frame struct {
	typ     uint8
	id      uint64
	payload []byte
}

// socketpair returns the runtime's end (non-blocking, so reads can time out)
// and the worker's raw fd.
func socketpair(t *testing.T) (*os.File, int) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.SetNonblock(fds[0], true); err != nil {
		t.Fatal(err)
	}
	rt := os.NewFile(uintptr(fds[0]), "runtime-end")
	t.Cleanup(func() { rt.Close() })
	return rt, fds[1]
}

func newFakeRuntime(t *testing.T, f *os.File) *fakeRuntime {
	return &fakeRuntime{t: t, f: f, rd: bufio.NewReader(f)}
}

func (r *fakeRuntime) send(typ uint8, id uint64, payload []byte) {
	r.t.Helper()
	b := make([]byte, headerSize, headerSize+len(payload))
	putHeader(b, typ, id, len(payload))
	if _, err := r.f.Write(append(b, payload...)); err != nil {
		r.t.Fatalf("send %s: %v", typeName(typ), err)
	}
}

func (r *fakeRuntime) invoke(id uint64, timeoutMs uint32, body string) {
	r.t.Helper()
	p := make([]byte, invokePrefixSize, invokePrefixSize+len(body))
	binary.LittleEndian.PutUint32(p, timeoutMs)
	r.send(typeInvoke, id, append(p, body...))
}

func (r *fakeRuntime) recv() frame {
	r.t.Helper()
	r.f.SetReadDeadline(time.Now().Add(10 * time.Second))
	var hdr [headerSize]byte
	if _, err := io.ReadFull(r.rd, hdr[:]); err != nil {
		r.t.Fatalf("recv header: %v", err)
	}
	h, err := decodeHeader(hdr[:])
	if err != nil {
		r.t.Fatalf("worker sent a bad header: %v", err)
	}
	p := make([]byte, h.length)
	if _, err := io.ReadFull(r.rd, p); err != nil {
		r.t.Fatalf("recv payload: %v", err)
	}
	return frame{typ: h.typ, id: h.id, payload: p}
}

func (r *fakeRuntime) expect(typ uint8, id uint64) frame {
	r.t.Helper()
	fr := r.recv()
	if fr.typ != typ || fr.id != id {
		r.t.Fatalf("got %s id %d (%q), want %s id %d", typeName(fr.typ), fr.id, fr.payload, typeName(typ), id)
	}
	return fr
}

func (r *fakeRuntime) expectResult(id uint64, want string) {
	r.t.Helper()
	if fr := r.expect(typeResult, id); string(fr.payload) != want {
		r.t.Fatalf("id %d: result %q, want %q", id, fr.payload, want)
	}
}

func (r *fakeRuntime) expectError(id uint64) wireError {
	r.t.Helper()
	fr := r.expect(typeError, id)
	var we wireError
	if err := json.Unmarshal(fr.payload, &we); err != nil {
		r.t.Fatalf("ERROR payload %q: %v", fr.payload, err)
	}
	return we
}

func (r *fakeRuntime) control(id uint64, req string) map[string]any {
	r.t.Helper()
	r.send(typeControl, id, []byte(req))
	fr := r.expect(typeControlReply, id)
	var m map[string]any
	if err := json.Unmarshal(fr.payload, &m); err != nil {
		r.t.Fatalf("CONTROL_REPLY %q: %v", fr.payload, err)
	}
	return m
}

// inProcess is a worker served by this test process.
type inProcess struct {
	*fakeRuntime
	sigterm chan os.Signal
	stopped chan struct{} // closed when run returns
	err     error         // what run returned
}

func startWorker(t *testing.T, concurrency int, h Handler, opts ...Option) *inProcess {
	t.Helper()
	rt, wfd := socketpair(t)
	ipc, err := openIPC(wfd, concurrency)
	if err != nil {
		t.Fatal(err)
	}
	w := newWorker(ipc, h, concurrency, newOptions(opts))
	p := &inProcess{fakeRuntime: newFakeRuntime(t, rt), sigterm: make(chan os.Signal, 1), stopped: make(chan struct{})}
	go func() {
		p.err = w.run(os.Getpid(), p.sigterm)
		close(p.stopped)
	}()
	t.Cleanup(func() {
		rt.Close() // a reader still in read() sees EOF and returns
		select {
		case <-p.stopped:
		case <-time.After(5 * time.Second):
			t.Error("worker did not stop after its channel closed")
		}
		ipc.Close()
	})
	fr := p.expect(typeReady, 0)
	if len(fr.payload) < readyPrefixSize {
		t.Fatalf("READY payload %q", fr.payload)
	}
	return p
}

// exited waits for run to return.
func (p *inProcess) exited(within time.Duration) (error, bool) {
	select {
	case <-p.stopped:
		return p.err, true
	case <-time.After(within):
		return nil, false
	}
}
