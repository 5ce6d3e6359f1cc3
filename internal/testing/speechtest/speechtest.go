// Package speechtest speaks text into WAV files with espeak-ng, for the
// audio tests: real speech, not a synthetic tone. scripts/ensure-espeak.sh
// installs espeak-ng when it is missing (TIERGATE_SKIP_ESPEAK=1 skips the
// test instead). It is test infrastructure; it imports nothing of tiergate
// but promtest (for the repository root).
package speechtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/tiergate/tiergate/internal/testing/promtest"
)

// File speaks text into a WAV file in the test's temporary directory and
// returns its path.
func File(t testing.TB, text string) string {
	t.Helper()
	espeak := promtest.Tool(t, "espeak", "espeak-ng")
	path := filepath.Join(t.TempDir(), "speech.wav")
	if b, err := exec.Command(espeak, "-w", path, text).CombinedOutput(); err != nil {
		t.Fatalf("espeak-ng: %v\n%s", err, b)
	}
	return path
}

// WAV speaks text and returns the WAV file's bytes.
func WAV(t testing.TB, text string) []byte {
	t.Helper()
	b, err := os.ReadFile(File(t, text))
	if err != nil || len(b) < 1000 || string(b[:4]) != "RIFF" {
		t.Fatalf("espeak-ng wrote %d bytes (%v)", len(b), err)
	}
	return b
}
