// Command go-recommend is a Hearth function that recommends items from an in-memory
// item-to-item graph: the kind of function whose garbage collector, at Go's default
// GOGC=100, takes a large share of its CPU. The graph (RECOMMEND_ITEMS items, 16 related
// items each, about 27 MiB at the default 150,000) is pointer-dense, so each GC cycle has
// much to mark; every request allocates tens of kilobytes of short-lived candidates, so
// cycles come often. GOGC and GOMEMLIMIT trade that CPU for memory (examples/gc.json runs
// it under a 256 MiB limit; the GC tuner chooses them).
//
// Request: an item id (decimal; any number is taken modulo the item count). Response:
// {"item": id, "recommendations": [{"id", "score", "via"}, ...]}, the ten best items three
// hops away, each scored from a feature vector of the items on its path.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	hearth "hearth.local/sdk"
)

const (
	related = 16
	// Hops fan out over the first few related items only, so a request's work stays bounded.
	fanOut = 6
	top    = 10
	// Each candidate is scored from a feature vector of this many values.
	features = 32
)

type item struct {
	id      uint32
	score   float32
	name    string
	related [related]*item
}

type candidate struct {
	features []float32
	path     []*item
	item     *item
	score    float32
	via      string
}

type recommendation struct {
	ID    uint32  `json:"id"`
	Score float32 `json:"score"`
	Via   string  `json:"via"`
}

var graph []*item

// weights of the scoring model: a candidate's score is its features' dot product with them.
var weights = func() (w [features]float32) {
	for k := range w {
		w[k] = 1 / float32(k+1)
	}
	return w
}()

// featuresOf describes a candidate c reached through a and b.
func featuresOf(a, b, c *item) []float32 {
	f := make([]float32, features)
	for k := range f {
		f[k] = a.score*float32(k&3) + b.score*float32(k&5) + c.score*float32(k&7)
	}
	return f
}

func score(f []float32) float32 {
	var s float32
	for k, v := range f {
		s += v * weights[k]
	}
	return s
}

// build makes a deterministic graph: item i's related items come from a xorshift sequence.
func build(n int) {
	graph = make([]*item, n)
	for i := range graph {
		graph[i] = &item{id: uint32(i), score: float32(i%1000) / 1000, name: "item-" + strconv.Itoa(i)}
	}
	x := uint32(2463534242)
	for _, it := range graph {
		for k := range it.related {
			x ^= x << 13
			x ^= x >> 17
			x ^= x << 5
			it.related[k] = graph[x%uint32(n)]
		}
	}
}

func recommend(id uint64) ([]byte, error) {
	start := graph[id%uint64(len(graph))]
	seen := make(map[uint32]*candidate, 256)
	for _, a := range start.related[:fanOut] {
		for _, b := range a.related[:fanOut] {
			for _, c := range b.related[:fanOut] {
				if c == start {
					continue
				}
				if known, ok := seen[c.id]; ok {
					known.score += c.score / 4
					continue
				}
				f := featuresOf(a, b, c)
				seen[c.id] = &candidate{features: f, path: []*item{start, a, b, c}, item: c, score: score(f), via: a.name + " > " + b.name}
			}
		}
	}
	list := make([]*candidate, 0, len(seen))
	for _, c := range seen {
		list = append(list, c)
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].score != list[j].score {
			return list[i].score > list[j].score
		}
		return list[i].item.id < list[j].item.id
	})
	out := make([]recommendation, 0, top)
	for _, c := range list[:min(top, len(list))] {
		out = append(out, recommendation{ID: c.item.id, Score: c.score, Via: c.via})
	}
	return json.Marshal(map[string]any{"item": start.id, "recommendations": out})
}

func main() {
	n := 150_000
	if v := os.Getenv("RECOMMEND_ITEMS"); v != "" {
		parsed, err := strconv.Atoi(v)
		if err != nil || parsed < 1 {
			fmt.Fprintf(os.Stderr, "RECOMMEND_ITEMS=%q: want a positive integer\n", v)
			os.Exit(2)
		}
		n = parsed
	}
	build(n)
	hearth.Serve(func(_ context.Context, req []byte) ([]byte, error) {
		id, err := strconv.ParseUint(strings.TrimSpace(string(req)), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("want an item id, got %q", req)
		}
		return recommend(id)
	})
}
