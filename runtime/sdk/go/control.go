package hearth

import (
	"encoding/json"
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
)

// Control requests (PROTOCOL.md, "Control requests"). They run on the
// reading goroutine, between invocations' frames, and are cheap.

type controlRequest struct {
	Op string `json:"op"`
	// gc: GOGC percent (negative turns the collector off).
	GOGC *int `json:"gogc"`
	// gc: soft memory limit in MiB; 0 removes the limit.
	MemoryLimitMb *int64 `json:"memoryLimitMb"`
}

type controlFailure struct {
	OK    bool   `json:"ok"`
	Error string `json:"error"`
}

type gcReply struct {
	OK               bool  `json:"ok"`
	GOGC             int64 `json:"gogc"`             // previous setting
	MemoryLimitBytes int64 `json:"memoryLimitBytes"` // previous setting; math.MaxInt64 = no limit
}

type statsReply struct {
	OK            bool    `json:"ok"`
	HeapBytes     uint64  `json:"heapBytes"`
	HeapGoalBytes uint64  `json:"heapGoalBytes"`
	GCCycles      uint64  `json:"gcCycles"`
	GCCPUFraction float64 `json:"gcCpuFraction"`
	// What a GC tuner needs, cumulative where it says so, so that a reader
	// can take differences between two replies:
	// heap marked live by the last cycle (what GOGC multiplies),
	HeapLiveBytes uint64 `json:"heapLiveBytes"`
	// GC roots scanned each cycle (stacks and globals, also in the heap goal),
	RootsBytes uint64 `json:"rootsBytes"`
	// memory the runtime holds from the OS (what GOMEMLIMIT bounds),
	MappedBytes uint64 `json:"mappedBytes"`
	// cumulative CPU seconds in the GC, and of the program minus idle time,
	GCCPUSeconds   float64 `json:"gcCpuSeconds"`
	BusyCPUSeconds float64 `json:"busyCpuSeconds"`
	// and cumulative bytes allocated on the heap.
	AllocBytes       uint64 `json:"allocBytes"`
	GoVersion        string `json:"goVersion"`
	GOGC             int64  `json:"gogc"`
	MemoryLimitBytes int64  `json:"memoryLimitBytes"`
	Goroutines       uint64 `json:"goroutines"`
}

// control answers one CONTROL payload with a CONTROL_REPLY payload.
func control(payload []byte) []byte {
	var req controlRequest
	if err := json.Unmarshal(payload, &req); err != nil {
		return controlError("bad control request: " + err.Error())
	}
	switch req.Op {
	case "gc":
		return controlGC(req)
	case "stats":
		return marshalReply(readStats())
	case "":
		return controlError("control request has no op")
	default:
		return controlError("unknown op " + req.Op)
	}
}

func controlGC(req controlRequest) []byte {
	var limit int64 = -1 // SetMemoryLimit leaves the limit as is for negatives
	if req.MemoryLimitMb != nil {
		switch mb := *req.MemoryLimitMb; {
		case mb < 0:
			return controlError(fmt.Sprintf("memoryLimitMb %d is negative", mb))
		case mb == 0:
			limit = math.MaxInt64
		case mb > math.MaxInt64>>20:
			return controlError(fmt.Sprintf("memoryLimitMb %d is too large", mb))
		default:
			limit = mb << 20
		}
	}
	rep := gcReply{OK: true}
	if req.GOGC != nil {
		rep.GOGC = int64(debug.SetGCPercent(*req.GOGC))
	} else {
		rep.GOGC = currentGOGC()
	}
	rep.MemoryLimitBytes = debug.SetMemoryLimit(limit)
	return marshalReply(rep)
}

func controlError(msg string) []byte {
	return marshalReply(controlFailure{OK: false, Error: msg})
}

func marshalReply(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(controlFailure{Error: "encoding reply: " + err.Error()})
	}
	return b
}

// Metric names (runtime/metrics); all exist in Go 1.22.
var statsSamples = [...]string{
	"/memory/classes/heap/objects:bytes",
	"/gc/heap/goal:bytes",
	"/gc/cycles/total:gc-cycles",
	"/cpu/classes/gc/total:cpu-seconds",
	"/cpu/classes/total:cpu-seconds",
	"/gc/gogc:percent",
	"/gc/gomemlimit:bytes",
	"/sched/goroutines:goroutines",
	"/gc/heap/live:bytes",
	"/gc/scan/globals:bytes",
	"/gc/scan/stack:bytes",
	"/memory/classes/total:bytes",
	"/memory/classes/heap/released:bytes",
	"/cpu/classes/idle:cpu-seconds",
	"/gc/heap/allocs:bytes",
}

func readStats() statsReply {
	s := make([]metrics.Sample, len(statsSamples))
	for i, name := range statsSamples {
		s[i].Name = name
	}
	metrics.Read(s)

	var ms *runtime.MemStats // read only if a metric is missing
	memStats := func() *runtime.MemStats {
		if ms == nil {
			ms = new(runtime.MemStats)
			runtime.ReadMemStats(ms)
		}
		return ms
	}
	u := func(i int, fallback func() uint64) uint64 {
		if s[i].Value.Kind() == metrics.KindUint64 {
			return s[i].Value.Uint64()
		}
		return fallback()
	}
	f := func(i int) (float64, bool) {
		if s[i].Value.Kind() == metrics.KindFloat64 {
			return s[i].Value.Float64(), true
		}
		return 0, false
	}

	rep := statsReply{OK: true, GoVersion: runtime.Version()}
	rep.HeapBytes = u(0, func() uint64 { return memStats().HeapAlloc })
	rep.HeapGoalBytes = u(1, func() uint64 { return memStats().NextGC })
	rep.GCCycles = u(2, func() uint64 { return uint64(memStats().NumGC) })
	// Share of available CPU (GOMAXPROCS × wall time) spent in GC, like
	// MemStats.GCCPUFraction; both are updated at the end of each GC cycle.
	gcCPU, ok1 := f(3)
	totalCPU, ok2 := f(4)
	switch {
	case ok1 && ok2 && totalCPU > 0:
		rep.GCCPUFraction = gcCPU / totalCPU
	case ok1 && ok2:
		rep.GCCPUFraction = 0
	default:
		rep.GCCPUFraction = memStats().GCCPUFraction
	}
	if math.IsNaN(rep.GCCPUFraction) || math.IsInf(rep.GCCPUFraction, 0) {
		rep.GCCPUFraction = 0
	}
	// The runtime stores GOGC=off as -1; the metric shows it as uint64.
	rep.GOGC = int64(u(5, func() uint64 { return uint64(currentGOGC()) }))
	rep.MemoryLimitBytes = int64(u(6, func() uint64 { return uint64(debug.SetMemoryLimit(-1)) }))
	rep.Goroutines = u(7, func() uint64 { return uint64(runtime.NumGoroutine()) })
	rep.HeapLiveBytes = u(8, func() uint64 { return memStats().HeapAlloc })
	rep.RootsBytes = u(9, zero) + u(10, zero)
	rep.MappedBytes = u(11, func() uint64 { return memStats().Sys }) - u(12, func() uint64 { return memStats().HeapReleased })
	rep.GCCPUSeconds = gcCPU
	if idle, ok := f(13); ok && ok2 {
		rep.BusyCPUSeconds = math.Max(0, totalCPU-idle)
	}
	rep.AllocBytes = u(14, func() uint64 { return memStats().TotalAlloc })
	return rep
}

func zero() uint64 { return 0 }

// currentGOGC reads the GOGC setting without changing it.
func currentGOGC() int64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindUint64 {
		return int64(s[0].Value.Uint64())
	}
	// No metric: SetGCPercent is the only other reader; put the value back.
	prev := debug.SetGCPercent(100)
	debug.SetGCPercent(prev)
	return int64(prev)
}
