// Command go-echo is a Hearth function that returns its request body
// unchanged: the smallest possible handler, so a benchmark of it measures the
// warm path (dispatch, IPC, SDK loop) and nothing else.
package main

import (
	"context"

	hearth "hearth.local/sdk"
)

func main() {
	hearth.Serve(func(_ context.Context, req []byte) ([]byte, error) {
		return req, nil
	})
}
