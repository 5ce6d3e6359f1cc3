package openai

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tiergate/tiergate/internal/providers"
	"github.com/tiergate/tiergate/internal/testing/emulators/openaiemu"
)

// audioReq is a transcription form for model (the client's name), its
// model part's span found in the body.
func audioReq(t *testing.T, model, format string, wav []byte) *providers.AudioRequest {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	fw, _ := mw.CreateFormFile("file", "a.wav")
	fw.Write(wav)
	mw.WriteField("model", "client-name")
	if format != "" {
		mw.WriteField("response_format", format)
	}
	mw.Close()
	body := b.Bytes()
	i := bytes.Index(body, []byte("client-name"))
	return &providers.AudioRequest{Model: model, Body: body, ContentType: mw.FormDataContentType(), ModelAt: [2]int{i, i + len("client-name")}}
}

// TestTranscribe: the form goes to the right path with only the model
// rewritten; the answer passes back with its Content-Type; the audio's
// length comes from a usage of type duration, else verbose_json's
// duration, else is left unknown.
func TestTranscribe(t *testing.T) {
	emu := openaiemu.New(openaiemu.Options{APIKey: key})
	defer emu.Close()
	p := newP(t, emu.URL)
	wav := openaiemu.Speech(strings.Repeat("a", 30), "wav") // 1.5 s
	for _, tt := range []struct {
		name, format string
		translate    bool
		noUsage      bool
		ct           string
		seconds      float64
	}{
		{"json with usage", "json", false, false, "application/json", 2},
		{"verbose_json with usage", "verbose_json", true, false, "application/json", 2},
		{"verbose_json without usage", "verbose_json", false, true, "application/json", 1.5},
		{"json without usage", "", false, true, "application/json", 0},
		{"text", "text", false, false, "text/plain; charset=utf-8", 0},
		{"srt", "srt", true, false, "text/plain; charset=utf-8", 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			emu.SetOptions(openaiemu.Options{APIKey: key, Audio: openaiemu.AudioOptions{NoUsage: tt.noUsage}})
			emu.Forget()
			req := audioReq(t, "whisper-large-v3", tt.format, wav)
			req.Translation = tt.translate
			first := false
			req.OnFirstByte = func() { first = true }
			res, err := p.Transcribe(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			sec := 0.0
			if res.Usage != nil {
				sec = res.Usage.AudioSeconds
			}
			if res.ContentType != tt.ct || sec != tt.seconds || !first || len(res.Body) == 0 {
				t.Errorf("Content-Type %q, %v s, first byte %v; want %q, %v s", res.ContentType, sec, first, tt.ct, tt.seconds)
			}
			got := emu.Requests()
			path := "/v1/audio/transcriptions"
			if tt.translate {
				path = "/v1/audio/translations"
			}
			want := bytes.Replace(req.Body, []byte("client-name"), []byte("whisper-large-v3"), 1)
			if len(got) != 1 || got[0].Path != path || !bytes.Equal(got[0].Body, want) || got[0].Header.Get("Content-Type") != req.ContentType {
				t.Errorf("upstream got %d requests (path %q)", len(got), got[0].Path)
			}
		})
	}
}

type sinkBuf struct {
	ct     string
	writes int
	bytes.Buffer
}

func (s *sinkBuf) SetContentType(ct string) { s.ct = ct }
func (s *sinkBuf) Write(p []byte) (int, error) {
	s.writes++
	return s.Buffer.Write(p)
}

// TestSpeech: the audio is copied through the sink with its
// Content-Type; failures before any audio are retryable, a cut after
// some is not, and a 200 that carries JSON instead of audio is an error.
func TestSpeech(t *testing.T) {
	emu := openaiemu.New(openaiemu.Options{APIKey: key})
	defer emu.Close()
	p := newP(t, emu.URL)
	body := []byte(`{"model":"client","input":"` + strings.Repeat("word ", 50) + `","voice":"alloy","response_format":"flac","route":{"sort":"price"}}`)
	var sink sinkBuf
	res, err := p.Speech(context.Background(), &providers.SpeechRequest{Model: "tts-1", Body: body}, &sink)
	if err != nil || sink.ct != "audio/flac" || !bytes.Equal(sink.Bytes(), openaiemu.Speech(strings.Repeat("word ", 50), "flac")) || res.Timing.Chunks < 2 {
		t.Fatalf("err %v, Content-Type %q, %d bytes in %d writes", err, sink.ct, sink.Len(), sink.writes)
	}
	if sent := emu.Requests()[0].Body; !bytes.Contains(sent, []byte(`"model":"tts-1"`)) || bytes.Contains(sent, []byte("route")) {
		t.Errorf("upstream body %s", sent)
	}

	for _, tt := range []struct {
		name      string
		fault     openaiemu.Fault
		status    int
		retryable bool
	}{
		{"500 before audio", openaiemu.Fault{Status: 500}, 502, true},
		{"cut after audio", openaiemu.Fault{CutAfter: 1}, 502, false},
		{"400", openaiemu.Fault{Status: 400, Message: "Invalid 'voice'"}, 400, false},
	} {
		emu.SetOptions(openaiemu.Options{APIKey: key, Fault: tt.fault})
		var sink sinkBuf
		_, err := p.Speech(context.Background(), &providers.SpeechRequest{Model: "tts-1", Body: body}, &sink)
		pe, ok := err.(*providers.Error)
		if !ok || pe.Status != tt.status || pe.Retryable != tt.retryable {
			t.Errorf("%s: %#v", tt.name, err)
		}
	}

	js := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"error":"voice not loaded"}`))
	}))
	defer js.Close()
	sink = sinkBuf{}
	_, err = newP(t, js.URL).Speech(context.Background(), &providers.SpeechRequest{Model: "tts-1", Body: body}, &sink)
	if pe, ok := err.(*providers.Error); !ok || !pe.Retryable || sink.Len() != 0 || !strings.Contains(pe.Message, "voice not loaded") {
		t.Errorf("a JSON 200: %#v, %d bytes to the sink", err, sink.Len())
	}
}
