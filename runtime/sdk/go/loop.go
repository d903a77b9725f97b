package hearth

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"
)

// openIPC wraps the inherited socket. With one invocation at a time the handler
// runs on the reading goroutine, and the fd stays in blocking mode, out of the
// netpoller: a blocking read() wakes the reading thread straight from the
// socket (a 100-byte echo round trip of about 12 µs instead of 20 µs).
// With concurrent handlers the fd goes to the netpoller instead: a goroutine
// blocked in read() would hold the only P (GOMAXPROCS=1 is common for
// workers) until sysmon took it back 20 µs to 10 ms later, so every handler
// it started waited that long and then paid a hand-off to another thread.
func openIPC(fd int, concurrency int) (*os.File, error) {
	if err := syscall.SetNonblock(fd, concurrency > 1); err != nil {
		return nil, fmt.Errorf("HEARTH_IPC_FD=%d: %w", fd, err)
	}
	return os.NewFile(uintptr(fd), "hearth-ipc"), nil
}

// worker runs the invoke loop over one IPC channel.
type worker struct {
	h      Handler
	opts   options
	rd     *bufio.Reader
	wr     *frameWriter
	hdr    [headerSize]byte
	slots  chan struct{} // one token per running handler; nil runs handlers inline
	track  inflight
	failed chan error // first write failure from any goroutine
}

func newWorker(ipc *os.File, h Handler, concurrency int, opts options) *worker {
	w := &worker{
		h:      h,
		opts:   opts,
		rd:     bufio.NewReaderSize(ipc, 64<<10),
		wr:     newFrameWriter(ipc, concurrency > 1),
		failed: make(chan error, 1),
	}
	w.track.done = make(chan struct{})
	if concurrency > 1 {
		w.slots = make(chan struct{}, concurrency)
	}
	return w
}

// run announces READY and serves until a graceful shutdown (nil) or a broken
// channel (the reason).
func (w *worker) run(pid int, sigterm <-chan os.Signal) error {
	ready := readyPayload(pid, sdkName)
	// The marker goes right before the write, so that an agent probing it sees the
	// moment READY leaves, as a hook on the write's syscall entry would.
	if err := timeReady(func() error { markReady(); return w.wr.write(typeReady, 0, ready) }); err != nil {
		return fmt.Errorf("sending READY: %w", err)
	}
	reportTiming()

	readDone := make(chan error, 1)
	go func() { readDone <- w.readLoop() }()

	select {
	case err := <-readDone:
		if err != nil {
			return err
		}
	case <-sigterm:
		w.beginShutdown()
	case err := <-w.failed:
		return err
	}
	// Draining. The reader may still be blocked in read(); the process exits
	// under it once Serve returns, after the last replies have left.
	select {
	case <-w.track.done:
		w.wr.drain()
		return nil
	case err := <-w.failed:
		return err
	}
}

// readLoop reads frames until SHUTDOWN (nil) or a broken channel.
func (w *worker) readLoop() error {
	for {
		h, payload, err := w.readFrame()
		if err != nil {
			if w.track.isShuttingDown() {
				return nil // SIGTERM is draining; the runtime may close its end
			}
			return err
		}
		switch h.typ {
		case typeInvoke:
			timeoutMs, body, err := decodeInvoke(payload)
			if err != nil {
				return fmt.Errorf("protocol violation: %w", err)
			}
			w.dispatch(h.id, timeoutMs, body)
		case typeControl:
			w.reply(typeControlReply, h.id, control(payload))
		case typeShutdown:
			w.beginShutdown()
			return nil
		default:
			return fmt.Errorf("protocol violation: runtime sent a %s frame, which only a worker sends", typeName(h.typ))
		}
	}
}

func (w *worker) readFrame() (header, []byte, error) {
	if _, err := io.ReadFull(w.rd, w.hdr[:]); err != nil {
		if err == io.EOF {
			return header{}, nil, errors.New("IPC channel closed by the runtime")
		}
		return header{}, nil, fmt.Errorf("reading from the IPC channel: %w", err)
	}
	h, err := decodeHeader(w.hdr[:])
	if err != nil {
		return header{}, nil, fmt.Errorf("protocol violation: %w", err)
	}
	var payload []byte
	if h.length > 0 {
		payload = make([]byte, h.length)
		if _, err := io.ReadFull(w.rd, payload); err != nil {
			return header{}, nil, fmt.Errorf("reading the %d-byte payload of a %s frame: %w", h.length, typeName(h.typ), err)
		}
	}
	return h, payload, nil
}

// dispatch runs one invocation: inline with concurrency 1, otherwise on its
// own goroutine once a slot is free.
func (w *worker) dispatch(id uint64, timeoutMs uint32, body []byte) {
	if !w.track.enter() {
		w.reply(typeError, id, errorJSON(errTypeShuttingDown, "worker is shutting down", ""))
		return
	}
	if w.slots == nil {
		w.invoke(id, timeoutMs, body)
		return
	}
	w.slots <- struct{}{}
	go w.invoke(id, timeoutMs, body)
}

func (w *worker) invoke(id uint64, timeoutMs uint32, body []byte) {
	ctx, cancel := context.WithDeadline(w.opts.base, time.Now().Add(time.Duration(timeoutMs)*time.Millisecond))
	ctx = context.WithValue(ctx, invocationIDKey{}, id)

	markInvokeStart(id)
	resp, err := callHandler(w.h, ctx, body)
	cancel()
	if w.slots != nil {
		<-w.slots
	}
	switch {
	case err != nil:
		w.reply(typeError, id, errorPayload(err))
	case len(resp) > maxPayload:
		w.reply(typeError, id, errorJSON(errTypeResultTooLarge,
			fmt.Sprintf("response is %d bytes, over the %d-byte frame limit", len(resp), maxPayload), ""))
	default:
		w.reply(typeResult, id, resp)
	}
	markInvokeEnd(id)
	w.track.leave()
}

// reply sends a frame; a failed write means the channel is broken.
func (w *worker) reply(typ uint8, id uint64, payload []byte) {
	if err := w.wr.write(typ, id, payload); err != nil {
		select {
		case w.failed <- fmt.Errorf("writing a %s frame: %w", typeName(typ), err):
		default:
		}
	}
}

// inflight counts accepted invocations until their reply is written, and
// refuses new ones once shutdown has begun.
type inflight struct {
	mu       sync.Mutex
	n        int
	shutting bool
	done     chan struct{} // closed once shutting and n == 0
}

func (t *inflight) enter() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.shutting {
		return false
	}
	t.n++
	return true
}

func (t *inflight) leave() {
	t.mu.Lock()
	t.n--
	if t.shutting && t.n == 0 {
		close(t.done)
	}
	t.mu.Unlock()
}

// shutdown stops admissions; it reports whether this call began the shutdown.
func (t *inflight) shutdown() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.shutting {
		return false
	}
	t.shutting = true
	if t.n == 0 {
		close(t.done)
	}
	return true
}

func (t *inflight) isShuttingDown() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.shutting
}
