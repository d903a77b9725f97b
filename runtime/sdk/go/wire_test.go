package hearth

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

func rawHeader(length uint32, typ, flags uint8, reserved uint16, id uint64) []byte {
	b := make([]byte, headerSize)
	binary.LittleEndian.PutUint32(b[0:], length)
	b[4] = typ
	b[5] = flags
	binary.LittleEndian.PutUint16(b[6:], reserved)
	binary.LittleEndian.PutUint64(b[8:], id)
	return b
}

func TestHeaderRoundTrip(t *testing.T) {
	for typ := uint8(typeReady); typ <= typeShutdown; typ++ {
		b := make([]byte, headerSize)
		putHeader(b, typ, 0x001f030405060708, 4096)
		h, err := decodeHeader(b)
		if err != nil {
			t.Fatalf("%s: %v", typeName(typ), err)
		}
		if h.typ != typ || h.id != 0x001f030405060708 || h.length != 4096 {
			t.Fatalf("%s: decoded %+v", typeName(typ), h)
		}
	}
	// Little-endian on the wire, whatever the host.
	b := make([]byte, headerSize)
	putHeader(b, typeResult, 1, 0x0a0b)
	if !bytes.Equal(b, []byte{0x0b, 0x0a, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0}) {
		t.Fatalf("header bytes % x", b)
	}
}

func TestHeaderRejects(t *testing.T) {
	cases := []struct {
		name string
		b    []byte
		want string
	}{
		{"short", make([]byte, 15), "short header"},
		{"type 0", rawHeader(0, 0, 0, 0, 0), "unknown frame type 0"},
		{"type 9", rawHeader(0, 9, 0, 0, 0), "unknown frame type 9"},
		{"type 255", rawHeader(0, 255, 0, 0, 0), "unknown frame type 255"},
		{"flags", rawHeader(8, typeInvoke, 1, 0, 1), "non-zero flags"},
		{"reserved", rawHeader(8, typeInvoke, 0, 0x100, 1), "non-zero reserved"},
		{"over limit", rawHeader(maxPayload+1, typeResult, 0, 0, 1), "over the"},
		{"1 GiB", rawHeader(1<<30, typeResult, 0, 0, 1), "over the"},
		{"all ones", bytes.Repeat([]byte{0xff}, 16), "unknown frame type 255"},
		{"short invoke", rawHeader(7, typeInvoke, 0, 0, 1), "under the 8-byte minimum"},
		{"short ready", rawHeader(0, typeReady, 0, 0, 0), "under the 8-byte minimum"},
		{"short error", rawHeader(1, typeError, 0, 0, 1), "under the 2-byte minimum"},
		{"empty control", rawHeader(0, typeControl, 0, 0, 1), "under the 2-byte minimum"},
		{"id over 2^53-1", rawHeader(8, typeInvoke, 0, 0, maxID+1), "over the largest id"},
	}
	for _, c := range cases {
		_, err := decodeHeader(c.b)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.name, err, c.want)
		}
	}
	if _, err := decodeHeader(rawHeader(maxPayload, typeResult, 0, 0, 1)); err != nil {
		t.Errorf("exactly maxPayload: %v", err)
	}
	if _, err := decodeHeader(rawHeader(8, typeInvoke, 0, 0, maxID)); err != nil {
		t.Errorf("id 2^53-1: %v", err)
	}
	for _, typ := range []uint8{typeResult, typeShutdown} {
		if _, err := decodeHeader(rawHeader(0, typ, 0, 0, 0)); err != nil {
			t.Errorf("empty %s: %v", typeName(typ), err)
		}
	}
}

func TestDecodeInvoke(t *testing.T) {
	p := []byte{0xe8, 0x03, 0, 0, 0, 0, 0, 0, 'h', 'i'}
	ms, body, err := decodeInvoke(p)
	if err != nil || ms != 1000 || string(body) != "hi" {
		t.Fatalf("got %d %q %v", ms, body, err)
	}
	p[5] = 1
	if _, _, err := decodeInvoke(p); err == nil {
		t.Fatal("non-zero reserved field accepted")
	}
	if _, _, err := decodeInvoke(p[:7]); err == nil {
		t.Fatal("short payload accepted")
	}
}

func TestReadyPayload(t *testing.T) {
	p := readyPayload(4242, "go/x")
	want := []byte{1, 0, 0, 0, 0x92, 0x10, 0, 0, 'g', 'o', '/', 'x'}
	if !bytes.Equal(p, want) {
		t.Fatalf("got % x, want % x", p, want)
	}
}

func FuzzDecodeHeader(f *testing.F) {
	f.Add(rawHeader(8, typeInvoke, 0, 0, 1))
	f.Add(rawHeader(0, typeShutdown, 0, 0, 0))
	f.Add(rawHeader(maxPayload, typeResult, 0, 0, 7))
	f.Add(rawHeader(maxPayload+1, typeResult, 0, 0, 7))
	f.Add(bytes.Repeat([]byte{0xff}, 16))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := decodeHeader(b)
		if err != nil {
			return
		}
		if len(b) < headerSize {
			t.Fatalf("accepted a %d-byte header", len(b))
		}
		if h.typ < typeReady || h.typ > typeShutdown || h.length > maxPayload {
			t.Fatalf("accepted %+v", h)
		}
		if int(h.typ) < len(minPayload) && h.length < minPayload[h.typ] {
			t.Fatalf("accepted a short %s payload: %d", typeName(h.typ), h.length)
		}
		// Anything accepted re-encodes to the same bytes: flags and
		// reserved must have been zero.
		again := make([]byte, headerSize)
		putHeader(again, h.typ, h.id, int(h.length))
		if !bytes.Equal(again, b[:headerSize]) {
			t.Fatalf("re-encoded % x, input % x", again, b[:headerSize])
		}
	})
}
