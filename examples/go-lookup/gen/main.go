// Command gen writes the go-lookup state: a table of 64-byte records (see the
// format at the top of ../main.go). The output is deterministic, so any two
// runs with the same size produce identical files.
//
//	go run ./gen -o PATH [-size BYTES]
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"
)

const recordSize = 64

func main() {
	out := flag.String("o", "", "output `path` (written to PATH.tmp, then renamed)")
	size := flag.Int64("size", 1<<30, "state size in `bytes`, a multiple of 64")
	flag.Parse()
	if *out == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: gen -o PATH [-size BYTES]")
		os.Exit(2)
	}
	if *size <= 0 || *size%recordSize != 0 {
		fmt.Fprintf(os.Stderr, "gen: -size %d is not a positive multiple of %d\n", *size, recordSize)
		os.Exit(2)
	}
	if err := generate(*out, *size); err != nil {
		fmt.Fprintf(os.Stderr, "gen: %v\n", err)
		os.Exit(1)
	}
}

const (
	chunkSize     = 8 << 20   // bytes generated per work item
	progressEvery = 128 << 20 // bytes between progress lines
)

func generate(path string, size int64) error {
	start := time.Now()
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer os.Remove(tmp) // no-op after the rename

	// Chunks are generated in parallel and written in order.
	nchunks := int((size + chunkSize - 1) / chunkSize)
	workers := runtime.GOMAXPROCS(0)
	results := make([]chan []byte, nchunks)
	for i := range results {
		results[i] = make(chan []byte, 1)
	}
	pool := sync.Pool{New: func() any { return make([]byte, chunkSize) }}
	// At most 2×workers chunks are in memory at once. Tokens are taken in
	// chunk order, so the chunk the writer waits for always holds one.
	tokens := make(chan struct{}, 2*workers)
	next := make(chan int)
	go func() {
		for i := 0; i < nchunks; i++ {
			tokens <- struct{}{}
			next <- i
		}
		close(next)
	}()
	for w := 0; w < workers; w++ {
		go func() {
			for i := range next {
				off := int64(i) * chunkSize
				n := int64(chunkSize)
				if off+n > size {
					n = size - off
				}
				buf := pool.Get().([]byte)[:n]
				fill(buf, uint64(off/recordSize))
				results[i] <- buf
			}
		}()
	}

	var written int64
	nextReport := int64(progressEvery)
	for i := 0; i < nchunks; i++ {
		buf := <-results[i]
		if _, err := f.Write(buf); err != nil {
			f.Close()
			return err
		}
		written += int64(len(buf))
		pool.Put(buf[:cap(buf)])
		<-tokens
		if written >= nextReport || written == size {
			fmt.Fprintf(os.Stderr, "gen: %d MiB of %d MiB\n", written>>20, size>>20)
			nextReport += progressEvery
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "gen: wrote %s: %d records, %d bytes in %v\n", path, size/recordSize, size, time.Since(start).Round(time.Millisecond))
	return nil
}

// fill writes records first, first+1, … into buf (a whole number of records).
func fill(buf []byte, first uint64) {
	for i := first; len(buf) >= recordSize; i++ {
		r := buf[:recordSize:recordSize]
		binary.LittleEndian.PutUint64(r[0:], i)
		s := 0x9E3779B97F4A7C15 ^ i
		for w := 8; w < recordSize; w += 8 {
			s += 0x9E3779B97F4A7C15
			z := s
			z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
			z = (z ^ (z >> 27)) * 0x94D049BB133111EB
			binary.LittleEndian.PutUint64(r[w:], z^(z>>31))
		}
		buf = buf[recordSize:]
	}
}
