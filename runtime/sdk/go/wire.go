// Frame codec for the Hearth worker protocol, version 1.
//
// This file mirrors runtime/ipc/frame.ts (the runtime's codec) and
// runtime/ipc/PROTOCOL.md (the contract both follow). Change all three
// together: a new frame type or flag needs a new protocol version.

package hearth

import (
	"encoding/binary"
	"fmt"
)

// protocolVersion is the version this SDK announces in READY.
const protocolVersion = 1

// Frame layout: a 16-byte header followed by length payload bytes, all
// integers little-endian.
//
//	offset size field
//	0      4    length   payload bytes after the header (<= maxPayload)
//	4      1    type     one of the frame types below
//	5      1    flags    0 in version 1
//	6      2    reserved 0
//	8      8    id       invocation or control request id; 0 where unused
const (
	headerSize = 16
	maxPayload = 64 << 20  // MAX_PAYLOAD
	maxID      = 1<<53 - 1 // ids a JavaScript peer can echo exactly
)

// Frame types.
const (
	typeReady        = 1 // worker → runtime
	typeInvoke       = 2 // runtime → worker
	typeResult       = 3 // worker → runtime
	typeError        = 4 // worker → runtime
	typeControl      = 5 // runtime → worker
	typeControlReply = 6 // worker → runtime
	typeSpecialise   = 7 // runtime → stem cell (Node only)
	typeShutdown     = 8 // runtime → worker
)

// READY roles.
const (
	roleWorker   = 0
	roleStemCell = 1
)

// Fixed payload prefixes.
const (
	readyPrefixSize  = 8 // u16 version, u16 role, u32 pid, then the SDK name
	invokePrefixSize = 8 // u32 timeoutMs, u32 reserved (0), then the request body
	minJSONPayload   = 2 // JSON payloads are objects: at least "{}"
)

var typeNames = [...]string{
	typeReady:        "READY",
	typeInvoke:       "INVOKE",
	typeResult:       "RESULT",
	typeError:        "ERROR",
	typeControl:      "CONTROL",
	typeControlReply: "CONTROL_REPLY",
	typeSpecialise:   "SPECIALISE",
	typeShutdown:     "SHUTDOWN",
}

// minPayload is the shortest payload each type may carry (MIN_PAYLOAD in
// frame.ts).
var minPayload = [...]uint32{
	typeReady:        readyPrefixSize,
	typeInvoke:       invokePrefixSize,
	typeResult:       0,
	typeError:        minJSONPayload,
	typeControl:      minJSONPayload,
	typeControlReply: minJSONPayload,
	typeSpecialise:   minJSONPayload,
	typeShutdown:     0,
}

func typeName(t uint8) string {
	if int(t) < len(typeNames) && typeNames[t] != "" {
		return typeNames[t]
	}
	return fmt.Sprintf("type %d", t)
}

// header is one decoded frame header.
type header struct {
	length uint32
	typ    uint8
	id     uint64
}

// decodeHeader checks b (at least headerSize bytes) against the rules every
// peer enforces: known type, zero flags and reserved bits, length within
// maxPayload and long enough for the type. An error means the channel is broken.
func decodeHeader(b []byte) (header, error) {
	if len(b) < headerSize {
		return header{}, fmt.Errorf("short header: %d bytes, want %d", len(b), headerSize)
	}
	h := header{
		length: binary.LittleEndian.Uint32(b[0:4]),
		typ:    b[4],
		id:     binary.LittleEndian.Uint64(b[8:16]),
	}
	if h.typ == 0 || int(h.typ) >= len(typeNames) {
		return header{}, fmt.Errorf("unknown frame type %d", h.typ)
	}
	if b[5] != 0 {
		return header{}, fmt.Errorf("%s frame has non-zero flags 0x%02x", typeName(h.typ), b[5])
	}
	if r := binary.LittleEndian.Uint16(b[6:8]); r != 0 {
		return header{}, fmt.Errorf("%s frame has non-zero reserved bits 0x%04x", typeName(h.typ), r)
	}
	if h.id > maxID {
		return header{}, fmt.Errorf("%s frame has id %d, over the largest id a peer can echo exactly (2^53 - 1)", typeName(h.typ), h.id)
	}
	if h.length > maxPayload {
		return header{}, fmt.Errorf("%s frame claims %d payload bytes, over the %d-byte limit", typeName(h.typ), h.length, maxPayload)
	}
	if int(h.typ) < len(minPayload) && h.length < minPayload[h.typ] {
		return header{}, fmt.Errorf("%s frame payload is %d bytes, under the %d-byte minimum for its type", typeName(h.typ), h.length, minPayload[h.typ])
	}
	return h, nil
}

// putHeader writes the header of a frame of type typ with id and a payload of
// length bytes into b[:headerSize].
func putHeader(b []byte, typ uint8, id uint64, length int) {
	_ = b[headerSize-1]
	binary.LittleEndian.PutUint32(b[0:4], uint32(length))
	b[4] = typ
	b[5] = 0
	b[6] = 0
	b[7] = 0
	binary.LittleEndian.PutUint64(b[8:16], id)
}

// readyPayload builds the READY payload for a worker (role 0).
func readyPayload(pid int, sdkName string) []byte {
	p := make([]byte, readyPrefixSize, readyPrefixSize+len(sdkName))
	binary.LittleEndian.PutUint16(p[0:2], protocolVersion)
	binary.LittleEndian.PutUint16(p[2:4], roleWorker)
	binary.LittleEndian.PutUint32(p[4:8], uint32(pid))
	return append(p, sdkName...)
}

// decodeInvoke splits an INVOKE payload into its timeout and request body.
// timeoutMs is the time left before the runtime gives up; 0 means none is.
func decodeInvoke(p []byte) (timeoutMs uint32, body []byte, err error) {
	if len(p) < invokePrefixSize {
		return 0, nil, fmt.Errorf("INVOKE payload is %d bytes, shorter than its %d-byte prefix", len(p), invokePrefixSize)
	}
	if r := binary.LittleEndian.Uint32(p[4:8]); r != 0 {
		return 0, nil, fmt.Errorf("INVOKE payload has non-zero reserved field 0x%08x", r)
	}
	return binary.LittleEndian.Uint32(p[0:4]), p[invokePrefixSize:], nil
}
