package hearth

import (
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
)

func TestMapStateIsReadOnly(t *testing.T) {
	f := stateFile(t, []byte("0123456789abcdef"))
	mem, err := mapState(int(f.Fd()), 10, false)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(mem[:cap(mem)])
	if string(mem) != "0123456789" || cap(mem) != 10 {
		t.Fatalf("mapped %q (cap %d)", mem, cap(mem))
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	faulted := func() (faulted bool) {
		defer func() { faulted = recover() != nil }()
		mem[0] = 'x'
		return false
	}()
	if !faulted || mem[0] != '0' {
		t.Fatal("writing to the state did not fault")
	}
}

func TestMapStateEmpty(t *testing.T) {
	f := stateFile(t, nil)
	mem, err := mapState(int(f.Fd()), 0, false)
	if err != nil || mem == nil || len(mem) != 0 {
		t.Fatalf("got %v, %v", mem, err)
	}
}

func TestStateConfig(t *testing.T) {
	env := func(kv ...string) func(string) (string, bool) {
		return func(k string) (string, bool) {
			for i := 0; i < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1], true
				}
			}
			return "", false
		}
	}
	sc, err := stateConfigFromEnv(env())
	if err != nil || sc.fd != -1 {
		t.Fatalf("no state: %+v %v", sc, err)
	}
	sc, err = stateConfigFromEnv(env("HEARTH_STATE_FD", "4", "HEARTH_STATE_SIZE", "1073741824", "HEARTH_STATE_POPULATE", "1"))
	if err != nil || sc.fd != 4 || sc.size != 1<<30 || !sc.populate {
		t.Fatalf("got %+v %v", sc, err)
	}
	_, err = stateConfigFromEnv(env("HEARTH_STATE_FD", "4", "HEARTH_STATE_SIZE", "1", "HEARTH_STATE_POPULATE", "yes"))
	if err == nil || !strings.Contains(err.Error(), "HEARTH_STATE_POPULATE") {
		t.Fatalf("got %v", err)
	}
}
