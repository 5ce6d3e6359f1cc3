// Package leak checks a test binary for leaked goroutines (goleak) with
// the exceptions every binary that links the Gemini SDK needs: the one
// copy of that TestMain helper the tests share. It is test
// infrastructure and imports nothing of tiergate.
package leak

import (
	"testing"

	"go.uber.org/goleak"
)

// VerifyTestMain runs the tests and fails the binary if goroutines
// remain, beyond opts and the worker go.opencensus.io (a dependency of
// the Gemini SDK) starts at init.
func VerifyTestMain(m *testing.M, opts ...goleak.Option) {
	goleak.VerifyTestMain(m, append(opts, goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"))...)
}
