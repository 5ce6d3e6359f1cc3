package e2e

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/tiergate/tiergate/internal/testing/emulators/openaiemu"
	"github.com/tiergate/tiergate/internal/testing/speechtest"
)

// TestOpenAINodeClientAudio: the official npm client transcribes real
// speech (espeak-ng) and asks for speech through the gateway on the
// default config; the multipart form it wrote reaches the upstream byte
// for byte.
func TestOpenAINodeClientAudio(t *testing.T) {
	const transcript = "Speech through the gateway."
	emu, env := withOpenAI(t, openaiemu.Options{Audio: openaiemu.AudioOptions{Transcript: transcript}})
	env["SPEECH_BASE_URL"] = "http://" + noOllama + "/v1"
	wav := speechtest.File(t, "Speech through the gateway.")
	runChecks(t, "audio.mjs", gatewayFor(t, env), "transcription,speech", map[string]string{
		"AUDIO_FILE": wav, "STT_MODEL": "whisper-1", "TTS_MODEL": "tts-1", "EXPECT_TRANSCRIPT": transcript,
	})
	audio, _ := os.ReadFile(wav)
	n := 0
	for _, r := range emu.Requests() {
		if r.Path != "/v1/audio/transcriptions" {
			continue
		}
		n++
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data; boundary=") || !bytes.Contains(r.Body, audio) ||
			!bytes.Contains(r.Body, []byte("name=\"model\"\r\n\r\nwhisper-1\r\n")) {
			t.Errorf("upstream got Content-Type %q and a %d-byte body without the client's file or model", r.Header.Get("Content-Type"), len(r.Body))
		}
	}
	if n != 2 {
		t.Errorf("upstream got %d transcriptions, want 2", n)
	}
}
