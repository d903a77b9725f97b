// Command go-lookup is a Hearth function that answers lookups in 1 GiB of
// read-only state, mapped from shared memory rather than loaded.
//
// State format (written by ./gen): a table of fixed-size 64-byte records,
// record i at byte offset i*64:
//
//	bytes 0..7   i, uint64 little-endian
//	bytes 8..63  seven successive outputs of splitmix64 seeded with
//	             0x9E3779B97F4A7C15 ^ i, each uint64 little-endian
//
// splitmix64: state += 0x9E3779B97F4A7C15; z := state;
// z = (z ^ z>>30) * 0xBF58476D1CE4E5B9; z = (z ^ z>>27) * 0x94D049BB133111EB;
// output z ^ z>>31. The default 1 GiB holds 16,777,216 records; the table is
// deterministic, so any two generations are byte-identical.
//
// Requests:
//
//	12345            look up record 12345
//	{"key": 12345}   the same
//	{"op": "scan"}   read every word of the state and sum it
//
// Replies: {"key":12345,"value":"<hex of bytes 8..63>"} and
// {"op":"scan","bytes":N,"sum":"<16 hex digits>","ns":<time inside the worker>}.
package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	hearth "hearth.local/sdk"
)

const recordSize = 64

func main() {
	hearth.Serve(handle)
}

func handle(ctx context.Context, req []byte) ([]byte, error) {
	state := hearth.State()
	if state == nil {
		return nil, errors.New("go-lookup has no state: deploy it with the table written by `go run ./gen`")
	}
	req = bytes.TrimSpace(req)
	if len(req) > 0 && req[0] == '{' {
		var r struct {
			Key json.RawMessage `json:"key"`
			Op  string          `json:"op"`
		}
		if err := json.Unmarshal(req, &r); err != nil {
			return nil, fmt.Errorf("bad request: %v", err)
		}
		switch {
		case r.Op == "scan":
			return scan(state), nil
		case r.Op != "":
			return nil, fmt.Errorf("unknown op %q (want \"scan\")", r.Op)
		case r.Key == nil:
			return nil, errors.New(`bad request: want a key, {"key": n} or {"op": "scan"}`)
		}
		req = r.Key
	}
	return lookup(state, string(req))
}

func lookup(state []byte, key string) ([]byte, error) {
	n := uint64(len(state) / recordSize)
	k, err := strconv.ParseUint(key, 10, 64)
	if err != nil {
		if _, ierr := strconv.ParseInt(key, 10, 64); ierr == nil || errors.Is(err, strconv.ErrRange) {
			return nil, fmt.Errorf("key %s out of range (0..%d)", key, int64(n)-1)
		}
		return nil, fmt.Errorf("bad key %q: want a whole number", key)
	}
	if k >= n {
		return nil, fmt.Errorf("key %d out of range (0..%d)", k, int64(n)-1)
	}
	rec := state[k*recordSize : (k+1)*recordSize]
	if binary.LittleEndian.Uint64(rec) != k {
		return nil, fmt.Errorf("state corrupt at record %d", k)
	}
	out := make([]byte, 0, 32+2*(recordSize-8))
	out = append(out, `{"key":`...)
	out = strconv.AppendUint(out, k, 10)
	out = append(out, `,"value":"`...)
	out = hex.AppendEncode(out, rec[8:])
	return append(out, `"}`...), nil
}

// scan sums the state as little-endian uint64 words (wrapping), touching
// every page once: a measure of how fast the worker reads its state.
func scan(state []byte) []byte {
	start := time.Now()
	sum := sumWords(state)
	ns := time.Since(start).Nanoseconds()
	out := make([]byte, 0, 96)
	out = append(out, `{"op":"scan","bytes":`...)
	out = strconv.AppendInt(out, int64(len(state)), 10)
	out = append(out, `,"sum":"`...)
	out = append(out, fmt.Sprintf("%016x", sum)...)
	out = append(out, `","ns":`...)
	out = strconv.AppendInt(out, ns, 10)
	return append(out, '}')
}

func sumWords(b []byte) uint64 {
	var s0, s1, s2, s3 uint64
	for len(b) >= 32 {
		s0 += binary.LittleEndian.Uint64(b[0:8])
		s1 += binary.LittleEndian.Uint64(b[8:16])
		s2 += binary.LittleEndian.Uint64(b[16:24])
		s3 += binary.LittleEndian.Uint64(b[24:32])
		b = b[32:]
	}
	for len(b) >= 8 {
		s0 += binary.LittleEndian.Uint64(b)
		b = b[8:]
	}
	if len(b) > 0 { // a trailing partial word counts zero-padded
		var w [8]byte
		copy(w[:], b)
		s0 += binary.LittleEndian.Uint64(w[:])
	}
	return s0 + s1 + s2 + s3
}
