package hearth

import (
	"math"
	"runtime"
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
	for _, k := range []string{"ok", "heapBytes", "heapGoalBytes", "gcCycles", "gcCpuFraction", "heapLiveBytes", "rootsBytes", "mappedBytes", "gcCpuSeconds", "busyCpuSeconds", "allocBytes", "goVersion", "gogc", "memoryLimitBytes"} {
		if _, ok := r[k]; !ok {
			t.Errorf("stats reply has no %q: %v", k, r)
		}
	}
	if r["ok"] != true || r["heapBytes"].(float64) <= 0 || r["heapGoalBytes"].(float64) <= 0 || !strings.HasPrefix(r["goVersion"].(string), "go") {
		t.Fatalf("stats reply %v", r)
	}
	if r["mappedBytes"].(float64) < r["heapBytes"].(float64) || r["allocBytes"].(float64) < r["heapBytes"].(float64) {
		t.Fatalf("the runtime holds less than its heap, or allocated less than it holds: %v", r)
	}
}

// The cumulative figures grow with work, so a tuner can difference two replies.
func TestControlStatsCumulative(t *testing.T) {
	w := startWorker(t, 1, echo)
	before := w.control(1, `{"op":"stats"}`)
	keep := make([][]byte, 0, 64)
	for i := 0; i < 200_000; i++ {
		keep = append(keep, make([]byte, 512))
		if len(keep) == cap(keep) {
			keep = keep[:0]
		}
	}
	runtime.GC()
	after := w.control(2, `{"op":"stats"}`)
	for _, k := range []string{"allocBytes", "gcCycles", "gcCpuSeconds", "busyCpuSeconds"} {
		if after[k].(float64) <= before[k].(float64) {
			t.Errorf("%s did not grow: %v then %v", k, before[k], after[k])
		}
	}
	if after["gcCpuSeconds"].(float64) > after["busyCpuSeconds"].(float64) {
		t.Errorf("more GC CPU than busy CPU: %v", after)
	}
	if after["heapLiveBytes"].(float64) <= 0 || after["heapLiveBytes"].(float64) > after["mappedBytes"].(float64) {
		t.Errorf("live heap %v outside (0, mapped %v]", after["heapLiveBytes"], after["mappedBytes"])
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
