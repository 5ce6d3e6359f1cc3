package bench

import (
	"strconv"
	"testing"

	"go.uber.org/goleak"

	"github.com/tiergate/tiergate/internal/testing/emulators/openaiemu"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func itoa(n int) string { return strconv.Itoa(n) }

func ftoa(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }

// chats are the chat completions an emulator received: the requests
// that warm a step's connections (GET /v1/models) left out.
func chats(emu *openaiemu.Server) []openaiemu.Request {
	var out []openaiemu.Request
	for _, q := range emu.Requests() {
		if q.Path == "/v1/chat/completions" {
			out = append(out, q)
		}
	}
	return out
}
