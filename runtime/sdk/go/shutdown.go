package hearth

import (
	"os"
	"os/signal"
	"syscall"
)

// notifySIGTERM delivers SIGTERM on the returned channel instead of letting
// it kill the process, so in-flight invocations can finish.
func notifySIGTERM() (<-chan os.Signal, func()) {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM)
	return c, func() { signal.Stop(c) }
}

// beginShutdown stops taking new invocations (SHUTDOWN frame or SIGTERM) and
// runs the WithOnShutdown callbacks once. The worker then exits when the
// invocations in flight have answered.
func (w *worker) beginShutdown() {
	if !w.track.shutdown() {
		return
	}
	for _, f := range w.opts.onShutdown {
		f()
	}
}
