package hearth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as a worker: with HEARTH_SDK_TEST_WORKER=1 it runs
// Serve with testWorkerHandler, the way a function's main does.
func TestMain(m *testing.M) {
	if os.Getenv("HEARTH_SDK_TEST_WORKER") == "1" {
		Serve(testWorkerHandler)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func testWorkerHandler(ctx context.Context, req []byte) ([]byte, error) {
	s := string(req)
	switch {
	case strings.HasPrefix(s, "wait:"):
		ms, _ := strconv.Atoi(s[5:])
		time.Sleep(time.Duration(ms) * time.Millisecond)
		return []byte("waited"), nil
	case strings.HasPrefix(s, "state:"):
		var off, n int
		fmt.Sscanf(s, "state:%d:%d", &off, &n)
		st := State()
		if st == nil {
			return nil, errors.New("no state")
		}
		if off < 0 || n < 0 || off+n > len(st) {
			return nil, fmt.Errorf("range %d+%d outside %d bytes", off, n, len(st))
		}
		return append([]byte(nil), st[off:off+n]...), nil
	case s == "statelen":
		return []byte(strconv.Itoa(len(State()))), nil
	}
	return req, nil
}

type subprocess struct {
	*fakeRuntime
	cmd    *exec.Cmd
	stderr *bytes.Buffer
}

// spawn starts the test binary as a worker the way the runtime does: the
// socket on fd 3 and, if state is non-nil, the state on fd 4. withIPC false
// starts it with neither, as someone running it by hand would.
func spawn(t *testing.T, withIPC bool, env []string, state *os.File) *subprocess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append([]string{"HEARTH_SDK_TEST_WORKER=1", "PATH=" + os.Getenv("PATH")}, env...)
	stderr := new(bytes.Buffer)
	cmd.Stderr = stderr
	p := &subprocess{cmd: cmd, stderr: stderr}
	var workerEnd *os.File
	if withIPC {
		rt, wfd := socketpair(t)
		workerEnd = os.NewFile(uintptr(wfd), "worker-end")
		cmd.ExtraFiles = []*os.File{workerEnd}
		if state != nil {
			cmd.ExtraFiles = append(cmd.ExtraFiles, state)
		}
		p.fakeRuntime = newFakeRuntime(t, rt)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if workerEnd != nil {
		workerEnd.Close()
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return p
}

// wait returns the exit code and stderr.
func (p *subprocess) wait(t *testing.T) (int, string) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return p.cmd.ProcessState.ExitCode(), p.stderr.String()
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		t.Fatalf("worker did not exit; stderr: %s", p.stderr)
		return 0, ""
	}
}

var workerEnv = []string{"HEARTH_IPC_FD=3", "HEARTH_CONCURRENCY=1", "HEARTH_PROTOCOL=1"}

func TestProcessGarbageFrameExits1(t *testing.T) {
	p := spawn(t, true, workerEnv, nil)
	p.expect(typeReady, 0)
	p.invoke(1, 1000, "hi")
	p.expectResult(1, "hi")
	p.f.Write(bytes.Repeat([]byte{0xff}, 16))
	code, stderr := p.wait(t)
	if code != 1 || !strings.Contains(stderr, "protocol violation: unknown frame type 255") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

func TestProcessOversizedFrameExits1(t *testing.T) {
	p := spawn(t, true, workerEnv, nil)
	p.expect(typeReady, 0)
	p.f.Write(rawHeader(1<<30, typeInvoke, 0, 0, 1))
	code, stderr := p.wait(t)
	if code != 1 || !strings.Contains(stderr, "over the") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

func TestProcessRuntimeGoneExits1(t *testing.T) {
	p := spawn(t, true, workerEnv, nil)
	p.expect(typeReady, 0)
	p.f.Close()
	code, stderr := p.wait(t)
	if code != 1 || !strings.Contains(stderr, "closed by the runtime") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

func TestProcessShutdownExits0(t *testing.T) {
	p := spawn(t, true, []string{"HEARTH_IPC_FD=3", "HEARTH_CONCURRENCY=4"}, nil)
	p.expect(typeReady, 0)
	p.invoke(1, 5000, "wait:200")
	p.invoke(2, 5000, "now")
	p.expectResult(2, "now")
	p.send(typeShutdown, 0, nil)
	p.expectResult(1, "waited")
	if code, stderr := p.wait(t); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

func TestProcessSIGTERMExits0(t *testing.T) {
	p := spawn(t, true, workerEnv, nil)
	p.expect(typeReady, 0)
	p.invoke(1, 5000, "wait:200")
	time.Sleep(50 * time.Millisecond)
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.expectResult(1, "waited")
	if code, stderr := p.wait(t); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

func TestProcessByHandExits2(t *testing.T) {
	p := spawn(t, false, nil, nil)
	code, stderr := p.wait(t)
	if code != 2 || !strings.Contains(stderr, "this is a Hearth worker; start it with `hearth deploy`") || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

func TestProcessBadEnvironment(t *testing.T) {
	cases := []struct {
		env  []string
		want string
	}{
		{[]string{"HEARTH_IPC_FD=three", "HEARTH_CONCURRENCY=1"}, `HEARTH_IPC_FD="three"`},
		{[]string{"HEARTH_IPC_FD=9", "HEARTH_CONCURRENCY=1"}, "HEARTH_IPC_FD=9 is not an open socket"},
		{[]string{"HEARTH_IPC_FD=3"}, "HEARTH_CONCURRENCY is not set"},
		{[]string{"HEARTH_IPC_FD=3", "HEARTH_CONCURRENCY=0"}, `HEARTH_CONCURRENCY="0"`},
		{[]string{"HEARTH_IPC_FD=3", "HEARTH_CONCURRENCY=1", "HEARTH_STATE_FD=4"}, "HEARTH_STATE_SIZE is not set"},
		{[]string{"HEARTH_IPC_FD=3", "HEARTH_CONCURRENCY=1", "HEARTH_STATE_FD=x", "HEARTH_STATE_SIZE=1"}, `HEARTH_STATE_FD="x"`},
		{[]string{"HEARTH_IPC_FD=3", "HEARTH_CONCURRENCY=1", "HEARTH_STATE_FD=4", "HEARTH_STATE_SIZE=-1"}, `HEARTH_STATE_SIZE="-1"`},
		{[]string{"HEARTH_IPC_FD=3", "HEARTH_CONCURRENCY=1", "HEARTH_STATE_FD=7", "HEARTH_STATE_SIZE=1"}, "HEARTH_STATE_FD=7: fstat"},
	}
	for _, c := range cases {
		p := spawn(t, true, c.env, nil)
		code, stderr := p.wait(t)
		if code != 1 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", c.env, code, stderr, c.want)
		}
	}
}

func stateFile(t *testing.T, content []byte) *os.File {
	t.Helper()
	path := t.TempDir() + "/state"
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path) // read-only, as the runtime passes it
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestProcessState(t *testing.T) {
	content := make([]byte, 3<<20)
	for i := range content {
		content[i] = byte(i * 7)
	}
	for _, populate := range []string{"0", "1"} {
		// The file is longer than the state, as a hugetlbfs file would be.
		size := len(content) - 12345
		env := append([]string{"HEARTH_STATE_FD=4", "HEARTH_STATE_SIZE=" + strconv.Itoa(size), "HEARTH_STATE_POPULATE=" + populate}, workerEnv...)
		p := spawn(t, true, env, stateFile(t, content))
		p.expect(typeReady, 0)
		p.invoke(1, 1000, "statelen")
		p.expectResult(1, strconv.Itoa(size))
		p.invoke(2, 1000, fmt.Sprintf("state:%d:16", size-16))
		p.expectResult(2, string(content[size-16:size]))
		p.invoke(3, 1000, fmt.Sprintf("state:%d:1", size))
		p.expectError(3)
		p.send(typeShutdown, 0, nil)
		if code, stderr := p.wait(t); code != 0 {
			t.Fatalf("exit %d, stderr %q", code, stderr)
		}
	}
}

func TestProcessStateShorterThanSize(t *testing.T) {
	env := append([]string{"HEARTH_STATE_FD=4", "HEARTH_STATE_SIZE=100"}, workerEnv...)
	p := spawn(t, true, env, stateFile(t, make([]byte, 50)))
	code, stderr := p.wait(t)
	if code != 1 || !strings.Contains(stderr, "shorter than HEARTH_STATE_SIZE=100") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

func TestProcessNoState(t *testing.T) {
	p := spawn(t, true, workerEnv, nil)
	p.expect(typeReady, 0)
	p.invoke(1, 1000, "state:0:1")
	if we := p.expectError(1); we.ErrorMessage != "no state" {
		t.Fatalf("got %+v", we)
	}
	p.send(typeShutdown, 0, nil)
	p.wait(t)
}
