package catalog

import (
	"math"
	"strings"
	"testing"
)

// TestAudioPrices: the speech prices belong to the speech tasks, are not
// negative, and cost per minute and per million characters.
func TestAudioPrices(t *testing.T) {
	model := func(p Price, tasks ...Task) *Model {
		return &Model{ID: "m", Provider: "p", Upstream: "u", Openness: OpenWeight, Deployment: SaaS, Tasks: tasks, Price: p}
	}
	for _, tt := range []struct {
		name string
		m    *Model
		want string // "" for valid
	}{
		{"whisper per minute", model(Price{PerMinute: 0.006}, SpeechToText), ""},
		{"tts per million characters", model(Price{PerMillionChars: 15}, TextToSpeech), ""},
		{"per minute on a chat model", model(Price{PerMinute: 0.006}, Chat), "price.per_minute"},
		{"per character on a transcriber", model(Price{PerMillionChars: 15}, SpeechToText), "price.per_million_chars"},
		{"negative per minute", model(Price{PerMinute: -1}, SpeechToText), "negative"},
		{"negative per character", model(Price{PerMillionChars: -1}, TextToSpeech), "negative"},
	} {
		err := tt.m.Validate("models[0]")
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
	p := Price{PerMinute: 0.006, PerMillionChars: 15}
	for _, tt := range []struct {
		sec   float64
		chars int
		want  float64
	}{{60, 0, 0.006}, {30, 0, 0.003}, {0, 1_000_000, 15}, {0, 4096, 0.06144}, {-5, -3, 0}} {
		if got := p.AudioCost(tt.sec, tt.chars); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("AudioCost(%v s, %d chars) = %v, want %v", tt.sec, tt.chars, got, tt.want)
		}
	}
}
