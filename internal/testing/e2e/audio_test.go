package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/testing/emulators/openaiemu"
	"github.com/tiergate/tiergate/internal/testing/speechtest"
)

// TestOpenAINodeClientAudio: the official npm client transcribes real
// speech (espeak-ng) and asks for speech through the gateway on the
// default config; the multipart form it wrote reaches the upstream byte
// for byte.
func TestOpenAINodeClientAudio(t *testing.T) {
	const transcript = "Speech through the gateway."
	emu := openaiemu.New(openaiemu.Options{APIKey: "sk-test-upstream-key-1234", Audio: openaiemu.AudioOptions{Transcript: transcript}})
	defer emu.Close()
	base := gatewayFor(t, map[string]string{"OPENAI_API_KEY": "sk-test-upstream-key-1234", "OPENAI_BASE_URL": emu.URL,
		"OLLAMA_HOST": noOllama, "SPEECH_BASE_URL": "http://" + noOllama + "/v1"})
	wav := speechtest.File(t, "Speech through the gateway.")
	dir := nodeClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "audio.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "OPENAI_BASE_URL="+base, "OPENAI_API_KEY=client-side-key-is-ignored",
		"AUDIO_FILE="+wav, "STT_MODEL=whisper-1", "TTS_MODEL=tts-1", "EXPECT_TRANSCRIPT="+transcript)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node audio client failed: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	var seen map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(stdout.String())), &seen); err != nil || seen["transcription"] == nil || seen["speech"] == nil {
		t.Fatalf("node output (%v): %s", err, stdout.String())
	}
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
