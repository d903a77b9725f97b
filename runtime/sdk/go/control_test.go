package hearth

import (
	"math"
	"runtime/debug"
	"strings"
	"testing"
)

func TestControlGC(t *testing.T) {
	prevGC := debug.SetGCPercent(100)
	prevLimit := debug.SetMemoryLimit(math.MaxInt64)
	defer func() {
		debug.SetGCPercent(prevGC)
		debug.SetMemoryLimit(prevLimit)
	}()
	w := startWorker(t, 1, echo)

	r := w.control(1, `{"op":"gc","gogc":50,"memoryLimitMb":256}`)
	if r["ok"] != true || r["gogc"] != 100.0 || r["memoryLimitBytes"] != float64(math.MaxInt64) {
		t.Fatalf("first gc reply %v", r)
	}
	r = w.control(2, `{"op":"gc"}`) // reads without changing
	if r["ok"] != true || r["gogc"] != 50.0 || r["memoryLimitBytes"] != float64(256<<20) {
		t.Fatalf("second gc reply %v", r)
	}
	r = w.control(3, `{"op":"gc","gogc":-1,"memoryLimitMb":0}`)
	if r["gogc"] != 50.0 || debug.SetGCPercent(-1) != -1 || debug.SetMemoryLimit(-1) != math.MaxInt64 {
		t.Fatalf("third gc reply %v", r)
	}
	r = w.control(4, `{"op":"stats"}`)
	if r["gogc"] != -1.0 {
		t.Fatalf("GOGC=off shows as %v", r["gogc"])
	}
	r = w.control(5, `{"op":"gc","memoryLimitMb":-3}`)
	if r["ok"] != false || !strings.Contains(r["error"].(string), "negative") {
		t.Fatalf("negative limit reply %v", r)
	}
}

func TestControlStats(t *testing.T) {
	w := startWorker(t, 1, echo)
	r := w.control(9, `{"op":"stats"}`)
	for _, k := range []string{"ok", "heapBytes", "heapGoalBytes", "gcCycles", "gcCpuFraction", "goVersion", "gogc", "memoryLimitBytes"} {
		if _, ok := r[k]; !ok {
			t.Errorf("stats reply has no %q: %v", k, r)
		}
	}
	if r["ok"] != true || r["heapBytes"].(float64) <= 0 || r["heapGoalBytes"].(float64) <= 0 || !strings.HasPrefix(r["goVersion"].(string), "go") {
		t.Fatalf("stats reply %v", r)
	}
}

func TestControlUnknownAndBad(t *testing.T) {
	w := startWorker(t, 1, echo)
	if r := w.control(1, `{"op":"defrag"}`); r["ok"] != false || r["error"] != "unknown op defrag" {
		t.Fatalf("unknown op reply %v", r)
	}
	if r := w.control(2, `{"op":`); r["ok"] != false || !strings.Contains(r["error"].(string), "unexpected end of JSON") {
		t.Fatalf("bad JSON reply %v", r)
	}
	if r := w.control(3, `{"op":"gc","gogc":"fifty"}`); r["ok"] != false || !strings.Contains(r["error"].(string), "gogc") {
		t.Fatalf("bad field reply %v", r)
	}
	if r := w.control(4, `[]`); r["ok"] != false {
		t.Fatalf("non-object reply %v", r)
	}
	// Still serving.
	w.invoke(5, 1000, "after")
	w.expectResult(5, "after")
}
