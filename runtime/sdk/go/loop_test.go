package hearth

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func echo(_ context.Context, req []byte) ([]byte, error) { return req, nil }

func TestReady(t *testing.T) {
	rt, wfd := socketpair(t)
	ipc, _ := openIPC(wfd, 1)
	defer ipc.Close()
	w := newWorker(ipc, echo, 1, newOptions(nil))
	go w.run(4242, nil)
	fr := newFakeRuntime(t, rt).expect(typeReady, 0)
	if v := binary.LittleEndian.Uint16(fr.payload[0:]); v != 1 {
		t.Errorf("version %d", v)
	}
	if role := binary.LittleEndian.Uint16(fr.payload[2:]); role != roleWorker {
		t.Errorf("role %d", role)
	}
	if pid := binary.LittleEndian.Uint32(fr.payload[4:]); pid != 4242 {
		t.Errorf("pid %d", pid)
	}
	if name := string(fr.payload[8:]); name != "go/"+Version {
		t.Errorf("sdk name %q", name)
	}
	rt.Close()
}

func TestInvokeResult(t *testing.T) {
	w := startWorker(t, 1, echo)
	w.invoke(1, 1000, "hello")
	w.expectResult(1, "hello")
	w.invoke(2, 1000, "")
	w.expectResult(2, "")
	w.invoke(maxID, 1000, "largest id")
	w.expectResult(maxID, "largest id")
}

func TestLargePayloads(t *testing.T) {
	w := startWorker(t, 1, echo)
	for i, n := range []int{copyLimit - 1, copyLimit, copyLimit + 1, 3 << 20} {
		body := bytes.Repeat([]byte{byte('a' + i)}, n)
		w.invoke(uint64(i+1), 10000, string(body))
		if fr := w.expect(typeResult, uint64(i+1)); !bytes.Equal(fr.payload, body) {
			t.Fatalf("%d bytes: echo differs (%d bytes back)", n, len(fr.payload))
		}
	}
}

type customError struct{ code int }

func (e *customError) Error() string { return fmt.Sprintf("custom %d", e.code) }

func TestHandlerError(t *testing.T) {
	w := startWorker(t, 1, func(_ context.Context, req []byte) ([]byte, error) {
		if string(req) == "custom" {
			return nil, &customError{7}
		}
		return []byte("ignored"), errors.New("handler failed")
	})
	w.invoke(1, 1000, "plain")
	if we := w.expectError(1); we.ErrorType != "*errors.errorString" || we.ErrorMessage != "handler failed" || we.StackTrace != "" {
		t.Fatalf("got %+v", we)
	}
	w.invoke(2, 1000, "custom")
	if we := w.expectError(2); we.ErrorType != "*hearth.customError" || we.ErrorMessage != "custom 7" {
		t.Fatalf("got %+v", we)
	}
}

func TestPanicKeepsServing(t *testing.T) {
	w := startWorker(t, 1, func(_ context.Context, req []byte) ([]byte, error) {
		switch string(req) {
		case "panic":
			panic("boom")
		case "nil map":
			var m map[string]int
			m["x"] = 1
		}
		return req, nil
	})
	w.invoke(1, 1000, "panic")
	we := w.expectError(1)
	if we.ErrorType != "panic" || we.ErrorMessage != "boom" || !strings.Contains(we.StackTrace, "TestPanicKeepsServing") {
		t.Fatalf("got %+v", we)
	}
	w.invoke(2, 1000, "nil map")
	if we := w.expectError(2); we.ErrorType != "panic" || !strings.Contains(we.ErrorMessage, "nil map") {
		t.Fatalf("got %+v", we)
	}
	w.invoke(3, 1000, "still here")
	w.expectResult(3, "still here")
}

func TestDeadlineAndID(t *testing.T) {
	type key struct{}
	w := startWorker(t, 1, func(ctx context.Context, _ []byte) ([]byte, error) {
		d, ok := ctx.Deadline()
		left := int64(-1)
		if ok {
			left = time.Until(d).Milliseconds()
		}
		return []byte(fmt.Sprintf("%d %d %v", InvocationID(ctx), left, ctx.Value(key{}))), nil
	}, WithContext(context.WithValue(context.Background(), key{}, "base")))

	w.invoke(77, 5000, "")
	var id, ms int64
	var base string
	fr := w.expect(typeResult, 77)
	fmt.Sscanf(string(fr.payload), "%d %d %s", &id, &ms, &base)
	if id != 77 || ms <= 4000 || ms > 5000 || base != "base" {
		t.Fatalf("handler saw %q", fr.payload)
	}
	// timeoutMs 0: the deadline has already passed.
	w.invoke(78, 0, "")
	if fr := w.expect(typeResult, 78); string(fr.payload) != "78 0 base" {
		t.Fatalf("handler saw %q", fr.payload)
	}
	if InvocationID(context.Background()) != 0 {
		t.Fatal("InvocationID outside an invocation")
	}
}

func TestDeadlineExpires(t *testing.T) {
	w := startWorker(t, 1, func(ctx context.Context, _ []byte) ([]byte, error) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(5 * time.Second):
			return []byte("too late"), nil
		}
	})
	start := time.Now()
	w.invoke(1, 50, "")
	we := w.expectError(1)
	if we.ErrorType != "context.deadlineExceededError" || time.Since(start) > 2*time.Second {
		t.Fatalf("got %+v after %v", we, time.Since(start))
	}
}

func TestConcurrencyOutOfOrder(t *testing.T) {
	release := make(chan struct{})
	w := startWorker(t, 2, func(_ context.Context, req []byte) ([]byte, error) {
		if string(req) == "slow" {
			<-release
		}
		return req, nil
	})
	w.invoke(1, 5000, "slow")
	w.invoke(2, 5000, "fast")
	w.expectResult(2, "fast")
	close(release)
	w.expectResult(1, "slow")
}

func TestConcurrencyLimit(t *testing.T) {
	var running, peak atomic.Int32
	release := make(chan struct{})
	started := make(chan struct{}, 8)
	w := startWorker(t, 3, func(_ context.Context, req []byte) ([]byte, error) {
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		started <- struct{}{}
		<-release
		running.Add(-1)
		return req, nil
	})
	// The runtime never sends more than HEARTH_CONCURRENCY, but if it did the
	// worker still runs at most that many handlers at once.
	for i := 1; i <= 5; i++ {
		w.invoke(uint64(i), 5000, "x")
	}
	for i := 0; i < 3; i++ {
		<-started
	}
	select {
	case <-started:
		t.Fatal("a fourth handler started")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	seen := map[uint64]bool{}
	for i := 0; i < 5; i++ {
		seen[w.expect(typeResult, w.peekID()).id] = true
	}
	if len(seen) != 5 || peak.Load() != 3 {
		t.Fatalf("answered %v, peak %d", seen, peak.Load())
	}
}

// peekID returns the id of the next frame without consuming it.
func (r *fakeRuntime) peekID() uint64 {
	r.f.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := r.rd.Peek(headerSize)
	if err != nil {
		r.t.Fatalf("peek: %v", err)
	}
	return binary.LittleEndian.Uint64(b[8:])
}

func TestShutdownDrains(t *testing.T) {
	release := make(chan struct{})
	var hooks atomic.Int32
	w := startWorker(t, 2, func(_ context.Context, req []byte) ([]byte, error) {
		<-release
		return req, nil
	}, WithOnShutdown(func() { hooks.Add(1) }))
	w.invoke(1, 5000, "in flight")
	time.Sleep(20 * time.Millisecond) // let the reader take it
	w.send(typeShutdown, 0, nil)
	if _, done := w.exited(100 * time.Millisecond); done {
		t.Fatal("run returned with an invocation in flight")
	}
	close(release)
	w.expectResult(1, "in flight")
	err, done := w.exited(5 * time.Second)
	if !done || err != nil {
		t.Fatalf("run: done %v err %v", done, err)
	}
	if hooks.Load() != 1 {
		t.Fatalf("shutdown hook ran %d times", hooks.Load())
	}
}

func TestShutdownIdle(t *testing.T) {
	w := startWorker(t, 1, echo)
	w.send(typeShutdown, 0, nil)
	if err, done := w.exited(5 * time.Second); !done || err != nil {
		t.Fatalf("run: done %v err %v", done, err)
	}
}

func TestSIGTERMDrains(t *testing.T) {
	release := make(chan struct{})
	w := startWorker(t, 1, func(_ context.Context, req []byte) ([]byte, error) {
		if string(req) == "wait" {
			<-release
		}
		return req, nil
	})
	w.invoke(1, 5000, "wait")
	time.Sleep(20 * time.Millisecond)
	w.sigterm <- os.Interrupt
	if _, done := w.exited(100 * time.Millisecond); done {
		t.Fatal("run returned with an invocation in flight")
	}
	close(release)
	w.expectResult(1, "wait")
	if err, done := w.exited(5 * time.Second); !done || err != nil {
		t.Fatalf("run: done %v err %v", done, err)
	}
}

func TestInvokeAfterSIGTERM(t *testing.T) {
	release := make(chan struct{})
	w := startWorker(t, 2, func(_ context.Context, req []byte) ([]byte, error) {
		<-release
		return req, nil
	})
	w.invoke(1, 5000, "first")
	time.Sleep(20 * time.Millisecond)
	w.sigterm <- os.Interrupt
	time.Sleep(20 * time.Millisecond)
	w.invoke(2, 5000, "late")
	if we := w.expectError(2); we.ErrorType != errTypeShuttingDown {
		t.Fatalf("got %+v", we)
	}
	close(release)
	w.expectResult(1, "first")
}

func TestBrokenChannel(t *testing.T) {
	w := startWorker(t, 1, echo)
	w.f.Close()
	err, done := w.exited(5 * time.Second)
	if !done || err == nil || !strings.Contains(err.Error(), "closed by the runtime") {
		t.Fatalf("run: done %v err %v", done, err)
	}
}

func TestProtocolViolations(t *testing.T) {
	cases := []struct {
		name string
		raw  []byte
		want string
	}{
		{"garbage", bytes.Repeat([]byte{0xff}, 16), "unknown frame type 255"},
		{"flags", rawHeader(8, typeInvoke, 2, 0, 1), "non-zero flags"},
		{"huge", rawHeader(1<<30, typeInvoke, 0, 0, 1), "over the"},
		{"wrong direction", rawHeader(0, typeResult, 0, 0, 1), "only a worker sends"},
		{"invoke reserved", append(rawHeader(8, typeInvoke, 0, 0, 1), 0, 0, 0, 0, 1, 0, 0, 0), "reserved field"},
		{"empty control", rawHeader(0, typeControl, 0, 0, 1), "under the 2-byte minimum"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := startWorker(t, 1, echo)
			if _, err := w.f.Write(c.raw); err != nil {
				t.Fatal(err)
			}
			err, done := w.exited(5 * time.Second)
			if !done || err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("run: done %v err %v, want %q", done, err, c.want)
			}
		})
	}
}

func TestConcurrentRepliesDoNotInterleave(t *testing.T) {
	w := startWorker(t, 8, func(_ context.Context, req []byte) ([]byte, error) {
		return bytes.Repeat(req[:1], 100<<10), nil // above copyLimit: writev path
	})
	const n = 64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < n; i++ {
			w.invoke(uint64(i+1), 5000, string(rune('A'+i%26)))
		}
	}()
	for i := 0; i < n; i++ {
		fr := w.recv()
		want := bytes.Repeat([]byte{byte('A' + (fr.id-1)%26)}, 100<<10)
		if fr.typ != typeResult || !bytes.Equal(fr.payload, want) {
			t.Fatalf("frame %d: %s id %d, %d bytes", i, typeName(fr.typ), fr.id, len(fr.payload))
		}
	}
	wg.Wait()
}

func TestResultTooLarge(t *testing.T) {
	w := startWorker(t, 1, func(_ context.Context, req []byte) ([]byte, error) {
		return make([]byte, maxPayload+1), nil
	})
	w.invoke(1, 5000, "")
	if we := w.expectError(1); we.ErrorType != errTypeResultTooLarge {
		t.Fatalf("got %+v", we)
	}
}
