package hearth

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime/debug"
)

// errorType values the SDK itself reports.
const (
	errTypePanic          = "panic"
	errTypeShuttingDown   = "hearth.ShuttingDown"   // INVOKE read after shutdown began
	errTypeResultTooLarge = "hearth.ResultTooLarge" // response over the frame limit
)

// wireError is the ERROR frame payload (PROTOCOL.md, type 4).
type wireError struct {
	ErrorType    string `json:"errorType"`
	ErrorMessage string `json:"errorMessage"`
	StackTrace   string `json:"stackTrace,omitempty"`
}

func errorJSON(errorType, message, stack string) []byte {
	b, err := json.Marshal(wireError{ErrorType: errorType, ErrorMessage: message, StackTrace: stack})
	if err != nil { // strings always marshal; keep the frame well-formed regardless
		return []byte(`{"errorType":"hearth.InternalError","errorMessage":"cannot encode error"}`)
	}
	return b
}

// errorPayload reports a handler's returned error under its dynamic type.
func errorPayload(err error) []byte {
	if p, ok := err.(*panicError); ok {
		return errorJSON(errTypePanic, p.message, p.stack)
	}
	return errorJSON(fmt.Sprintf("%T", err), err.Error(), "")
}

// panicError is a recovered handler panic.
type panicError struct {
	message string
	stack   string
}

func (p *panicError) Error() string { return "panic: " + p.message }

// callHandler runs h, turning a panic into a *panicError so the worker keeps
// serving.
func callHandler(h Handler, ctx context.Context, req []byte) (resp []byte, err error) {
	defer func() {
		if v := recover(); v != nil {
			resp, err = nil, &panicError{message: fmt.Sprint(v), stack: string(debug.Stack())}
		}
	}()
	return h(ctx, req)
}
