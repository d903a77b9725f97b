package hearth

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"runtime/debug"
	"testing"
)

// FuzzReadFrames feeds bytes from the runtime through the worker's read path:
// readFrame (header rules, payload), then what readLoop does with each frame
// (decodeInvoke for INVOKE, control for CONTROL). The documented outcome
// (PROTOCOL.md, "Frames"): every frame is decoded whole and every CONTROL gets a
// JSON reply, or the stream ends with an error that says what is wrong; never a
// panic. Inputs in testdata/fuzz/FuzzReadFrames are replayed by plain go test;
// `npm run fuzz -- go-sdk` runs go test -fuzz on it.
func FuzzReadFrames(f *testing.F) {
	frame := func(typ uint8, id uint64, payload []byte) []byte {
		b := make([]byte, headerSize, headerSize+len(payload))
		putHeader(b, typ, id, len(payload))
		return append(b, payload...)
	}
	invoke := func(id uint64, timeoutMs uint32, body string) []byte {
		p := make([]byte, invokePrefixSize, invokePrefixSize+len(body))
		binary.LittleEndian.PutUint32(p, timeoutMs)
		return frame(typeInvoke, id, append(p, body...))
	}
	f.Add(bytes.Join([][]byte{invoke(1, 1000, "hello"), invoke(2, 0, ""), frame(typeShutdown, 0, nil)}, nil))
	f.Add(frame(typeControl, 3, []byte(`{"op":"stats"}`)))
	f.Add(frame(typeControl, 4, []byte(`{"op":"gc","gogc":50,"memoryLimitMb":512}`)))
	f.Add(frame(typeControl, 5, []byte(`{"op":"nope"}`)))
	f.Add(invoke(maxID, 5, "largest id"))

	f.Fuzz(func(t *testing.T, data []byte) {
		// A CONTROL gc request changes this process's GC settings: put them back.
		gogc := debug.SetGCPercent(100)
		debug.SetGCPercent(gogc)
		limit := debug.SetMemoryLimit(-1)
		defer func() {
			debug.SetGCPercent(gogc)
			debug.SetMemoryLimit(limit)
		}()

		w := &worker{rd: bufio.NewReader(bytes.NewReader(data))}
		consumed := 0
		for {
			h, payload, err := w.readFrame()
			if err != nil {
				if err.Error() == "" {
					t.Fatal("an error without a message")
				}
				return
			}
			if uint32(len(payload)) != h.length {
				t.Fatalf("%s frame: header says %d bytes, payload has %d", typeName(h.typ), h.length, len(payload))
			}
			consumed += headerSize + len(payload)
			if consumed > len(data) {
				t.Fatalf("decoded %d bytes from %d", consumed, len(data))
			}
			switch h.typ {
			case typeInvoke:
				if _, body, err := decodeInvoke(payload); err == nil && len(body) != len(payload)-invokePrefixSize {
					t.Fatalf("INVOKE body of %d bytes from a %d-byte payload", len(body), len(payload))
				} else if err != nil {
					return // readLoop: a protocol violation ends the worker
				}
			case typeControl:
				var reply struct {
					OK    *bool  `json:"ok"`
					Error string `json:"error"`
				}
				raw := control(payload)
				if err := json.Unmarshal(raw, &reply); err != nil || reply.OK == nil {
					t.Fatalf("CONTROL %q got reply %q", payload, raw)
				}
				if !*reply.OK && reply.Error == "" {
					t.Fatalf("CONTROL %q refused without a reason", payload)
				}
			default:
				return // SHUTDOWN ends the loop; anything else is a protocol violation
			}
		}
	})
}
