package hearth

import "context"

// Handler answers one invocation: request is the request body, the returned
// bytes are the response body. A non-nil error is reported to the caller as
// {"errorType": "<%T of the error>", "errorMessage": err.Error()}.
//
// ctx ends at the invocation's deadline (the runtime's timeout) and carries
// the invocation id (InvocationID). request belongs to the handler; it is not
// reused after the handler returns. With HEARTH_CONCURRENCY above 1, the
// handler runs on several goroutines at once.
type Handler func(ctx context.Context, request []byte) ([]byte, error)

// Option configures Serve.
type Option func(*options)

type options struct {
	base       context.Context
	onShutdown []func()
}

func newOptions(opts []Option) options {
	o := options{base: context.Background()}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithContext makes ctx the parent of every invocation's context, so values
// it carries reach the handler. Cancelling it cancels the invocations'
// contexts; it does not stop the worker.
func WithContext(ctx context.Context) Option {
	return func(o *options) {
		if ctx != nil {
			o.base = ctx
		}
	}
}

// WithOnShutdown registers callbacks that run once, when shutdown begins
// (SHUTDOWN or SIGTERM), while the invocations in flight are still running:
// the place to stop background work before the process exits.
func WithOnShutdown(callbacks ...func()) Option {
	return func(o *options) {
		o.onShutdown = append(o.onShutdown, callbacks...)
	}
}

type invocationIDKey struct{}

// InvocationID returns the id of the invocation ctx belongs to (the id the
// runtime logs and traces it under), or 0 outside an invocation.
func InvocationID(ctx context.Context) uint64 {
	id, _ := ctx.Value(invocationIDKey{}).(uint64)
	return id
}
