// Package hearth is the Go SDK for Hearth workers.
//
// A Hearth function is a Go main package that hands one Handler to Serve:
//
//	func main() {
//		hearth.Serve(func(ctx context.Context, req []byte) ([]byte, error) {
//			return req, nil
//		})
//	}
//
// Serve maps the function's state (see State), tells the runtime the worker
// is ready, and answers invocations until the runtime shuts the worker down.
// Each invocation's context carries its deadline and its id (InvocationID).
// A returned error or a panic becomes an error response; the worker keeps
// serving.
//
// The SDK speaks the worker protocol in runtime/ipc/PROTOCOL.md over the
// socket the runtime passes on fd HEARTH_IPC_FD. It uses the standard
// library only and builds with Go 1.22 or newer.
package hearth

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// Version is the SDK version; READY announces "go/" + Version.
const Version = "1.0.0"

const sdkName = "go/" + Version

// Exit codes of a worker that cannot run.
const (
	exitBroken    = 1 // broken channel, bad environment, unmappable state
	exitNotWorker = 2 // started by hand rather than by the runtime
)

// Serve runs h as this process's function and returns only after a graceful
// shutdown (a SHUTDOWN frame or SIGTERM, once the invocations in flight have
// answered); the caller's main should then return so the process exits 0.
//
// Before announcing READY, Serve maps the state (State) and makes the process
// non-dumpable, so that a sibling worker running as the same user cannot read
// its memory or environment through /proc. At most
// HEARTH_CONCURRENCY invocations run at once; with 1, the handler runs on the
// goroutine that reads the socket. If the channel to the runtime breaks (EOF,
// a write error, a frame that breaks the protocol) Serve logs the reason to
// stderr and exits 1. A process not started by the runtime exits 2 with a
// one-line explanation.
func Serve(h Handler, opts ...Option) {
	if h == nil {
		fatalf("Serve: nil Handler")
	}
	cfg, err := configFromEnv(os.LookupEnv)
	if err != nil {
		if errors.Is(err, errNotWorker) {
			fmt.Fprintln(os.Stderr, "this is a Hearth worker; start it with `hearth deploy` (it needs the runtime's IPC socket on fd 3, or HEARTH_IPC_FD)")
			os.Exit(exitNotWorker)
		}
		fatalf("%v", err)
	}
	State() // mapped before READY so the runtime's readiness means "state in place"
	hideFromSiblings()

	ipc, err := openIPC(cfg.ipcFD, cfg.concurrency)
	if err != nil {
		fatalf("%v", err)
	}
	w := newWorker(ipc, h, cfg.concurrency, newOptions(opts))
	sigterm, stop := notifySIGTERM()
	defer stop()
	if err := w.run(os.Getpid(), sigterm); err != nil {
		fatalf("%v", err)
	}
}

// hideFromSiblings sets PR_SET_DUMPABLE to 0: /proc/PID then belongs to
// root, and another process of this user cannot open its mem, environ or fds.
// An exec resets the flag, which is why the worker sets it itself.
func hideFromSiblings() {
	syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_DUMPABLE, 0, 0)
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "hearth: "+format+"\n", args...)
	os.Exit(exitBroken)
}

// errNotWorker: no HEARTH_IPC_FD and fd 3 is not a socket.
var errNotWorker = errors.New("not started by the Hearth runtime")

// config is what the runtime passes in the environment (PROTOCOL.md,
// "What a worker inherits").
type config struct {
	ipcFD       int
	concurrency int
}

const maxConcurrency = 1 << 16

func configFromEnv(lookup func(string) (string, bool)) (config, error) {
	var c config
	v, set := lookup("HEARTH_IPC_FD")
	if !set {
		if !isSocket(3) {
			return c, errNotWorker
		}
		c.ipcFD = 3
	} else {
		fd, err := strconv.Atoi(v)
		if err != nil || fd < 0 {
			return c, fmt.Errorf("HEARTH_IPC_FD=%q is not a file descriptor number", v)
		}
		if !isSocket(fd) {
			return c, fmt.Errorf("HEARTH_IPC_FD=%d is not an open socket", fd)
		}
		c.ipcFD = fd
	}

	v, set = lookup("HEARTH_CONCURRENCY")
	if !set {
		return c, errors.New("HEARTH_CONCURRENCY is not set")
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxConcurrency {
		return c, fmt.Errorf("HEARTH_CONCURRENCY=%q is not a whole number from 1 to %d", v, maxConcurrency)
	}
	c.concurrency = n
	return c, nil
}

func isSocket(fd int) bool {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return false
	}
	return st.Mode&syscall.S_IFMT == syscall.S_IFSOCK
}
