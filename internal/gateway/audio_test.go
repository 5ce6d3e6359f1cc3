package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/app"
	"github.com/tiergate/tiergate/internal/app/apptest"
	"github.com/tiergate/tiergate/internal/config"
	"github.com/tiergate/tiergate/internal/keys"
	"github.com/tiergate/tiergate/internal/testing/emulators/openaiemu"
	"github.com/tiergate/tiergate/internal/testing/speechtest"
)

// audioModels are the fleet's speech models: OpenAI's (SaaS, ranked
// first), Groq's Whisper under another upstream name, and a self-hosted
// speech server's (on the fleet's vllm provider).
const audioModels = `  - {id: whisper-1, provider: openai, upstream: whisper-1, openness: open-weight, deployment: saas, tasks: [speech-to-text], quality: 95, price: {input: 0, output: 0, per_minute: 0.006}}
  - {id: groq-whisper, provider: groq, upstream: whisper-large-v3, openness: open-weight, deployment: saas, tasks: [speech-to-text], quality: 85}
  - {id: whisper-local, provider: vllm, upstream: Systran/faster-whisper-small, openness: open-weight, deployment: self-hosted, tasks: [speech-to-text], quality: 40}
  - {id: tts-1, provider: openai, upstream: tts-1, openness: proprietary, deployment: saas, tasks: [text-to-speech], quality: 95, price: {input: 0, output: 0, per_million_chars: 15}}
  - {id: tts-local, provider: vllm, upstream: kokoro, openness: open-weight, deployment: self-hosted, tasks: [text-to-speech], quality: 40}
`

// audioForm is a transcription body as the openai clients write it: the
// file first, then the fields, under boundary.
func audioForm(t *testing.T, boundary string, wav []byte, fields ...string) ([]byte, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	if err := mw.SetBoundary(boundary); err != nil {
		t.Fatal(err)
	}
	fw, _ := mw.CreateFormFile("file", "speech.wav")
	fw.Write(wav)
	for i := 0; i+1 < len(fields); i += 2 {
		mw.WriteField(fields[i], fields[i+1])
	}
	mw.Close()
	return b.Bytes(), mw.FormDataContentType()
}

func audioPost(t *testing.T, url, path, ct string, body []byte, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", url+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", ct)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// audioRequests are the emulator's requests to its audio endpoints.
func audioRequests(s *openaiemu.Server) []openaiemu.Request {
	var out []openaiemu.Request
	for _, r := range s.Requests() {
		if strings.HasPrefix(r.Path, "/v1/audio/") {
			out = append(out, r)
		}
	}
	return out
}

// TestTranscriptionByteIdentical: real speech (espeak-ng) transcribed
// through the gateway reaches the upstream byte for byte, boundary and
// Content-Type included; pinned to a model whose upstream name differs,
// only the model part's value changes.
func TestTranscriptionByteIdentical(t *testing.T) {
	wav := speechtest.WAV(t, "The gateway forwards this sentence to the speech backend.")
	f := startFleetWith(t, 0, audioModels, nil)
	f.saas.SetOptions(openaiemu.Options{APIKey: "k1", Audio: openaiemu.AudioOptions{Transcript: "The gateway forwards this sentence."}})
	body, ct := audioForm(t, "tiergate-audio-boundary-1", wav, "model", "whisper-1", "language", "en", "prompt", "a gateway",
		"response_format", "verbose_json", "temperature", "0", "timestamp_granularities[]", "word", "timestamp_granularities[]", "segment")
	resp, out := audioPost(t, f.url, "/v1/audio/transcriptions", ct, body, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("X-Tiergate-Model") != "whisper-1" {
		t.Fatalf("status %d %q model %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("X-Tiergate-Model"), out)
	}
	var v struct {
		Task     string  `json:"task"`
		Text     string  `json:"text"`
		Duration float64 `json:"duration"`
		Words    []any   `json:"words"`
	}
	if err := json.Unmarshal(out, &v); err != nil || v.Text != "The gateway forwards this sentence." || v.Task != "transcribe" || len(v.Words) != 5 {
		t.Errorf("answer %s (%v)", out, err)
	}
	if want := openaiemu.WAVSeconds(wav); v.Duration != want || want < 1 {
		t.Errorf("duration %v, want the WAV's %v", v.Duration, want)
	}
	got := audioRequests(f.saas)
	if len(got) != 1 || got[0].Path != "/v1/audio/transcriptions" {
		t.Fatalf("openai got %+v", got)
	}
	if !bytes.Equal(got[0].Body, body) {
		t.Errorf("the upstream's body (%d bytes) differs from the client's (%d bytes)", len(got[0].Body), len(body))
	}
	if got[0].Header.Get("Content-Type") != ct {
		t.Errorf("upstream Content-Type %q, want %q", got[0].Header.Get("Content-Type"), ct)
	}

	// Groq's model is whisper-large-v3: the same form, but for that value.
	body, ct = audioForm(t, "tiergate-audio-boundary-2", wav, "model", "groq-whisper", "response_format", "json")
	want, _ := audioForm(t, "tiergate-audio-boundary-2", wav, "model", "whisper-large-v3", "response_format", "json")
	resp, out = audioPost(t, f.url, "/v1/audio/translations", ct, body, nil)
	if resp.StatusCode != 200 || resp.Header.Get("X-Tiergate-Model") != "groq-whisper" {
		t.Fatalf("status %d: %s", resp.StatusCode, out)
	}
	got = audioRequests(f.groq)
	if len(got) != 1 || got[0].Path != "/v1/audio/translations" || !bytes.Equal(got[0].Body, want) || got[0].Header.Get("Content-Type") != ct {
		t.Fatalf("groq got %d requests; body equal to the rewritten form: %v", len(got), len(got) == 1 && bytes.Equal(got[0].Body, want))
	}
}

// TestTranscriptionFormats: every response_format passes back as the
// upstream wrote it, with its Content-Type.
func TestTranscriptionFormats(t *testing.T) {
	f := startFleetWith(t, 0, audioModels, nil)
	wav := openaiemu.Speech("one two three", "wav")
	for _, tt := range []struct{ format, ct, prefix string }{
		{"json", "application/json", `{"text":"Hello from the emulator.","usage":{"seconds":1,"type":"duration"}}`},
		{"text", "text/plain; charset=utf-8", "Hello from the emulator.\n"},
		{"srt", "text/plain; charset=utf-8", "1\n00:00:00,000 --> 00:00:00,650\nHello from the emulator.\n\n"},
		{"vtt", "text/plain; charset=utf-8", "WEBVTT\n\n00:00:00.000 --> 00:00:00.650\nHello"},
		{"verbose_json", "application/json", `{"duration":0.65,"language":"english","segments":[`},
	} {
		t.Run(tt.format, func(t *testing.T) {
			body, ct := audioForm(t, "b-"+tt.format, wav, "model", "whisper-1", "response_format", tt.format)
			resp, out := audioPost(t, f.url, "/v1/audio/transcriptions", ct, body, nil)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != tt.ct || !strings.HasPrefix(string(out), tt.prefix) {
				t.Errorf("status %d, Content-Type %q, body %q; want %q starting %q", resp.StatusCode, resp.Header.Get("Content-Type"), out, tt.ct, tt.prefix)
			}
		})
	}
}

// TestSpeechStreams: the audio reaches the client as the upstream sends
// it: the emulator holds the rest of it until the client has read the
// first piece.
func TestSpeechStreams(t *testing.T) {
	f := startFleetWith(t, 0, audioModels, nil)
	hold := make(chan struct{})
	f.saas.SetOptions(openaiemu.Options{APIKey: "k1", Audio: openaiemu.AudioOptions{Hold: hold}})
	released := false
	defer func() {
		if !released {
			close(hold)
		}
	}()
	input := "The first words are heard before the last are spoken."
	// A gateway that buffers the audio never hands over the first piece:
	// the watchdog ends the wait so that the test fails rather than hangs.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watchdog := time.AfterFunc(time.Minute, cancel)
	defer watchdog.Stop()
	req, _ := http.NewRequestWithContext(ctx, "POST", f.url+"/v1/audio/speech",
		strings.NewReader(`{"model":"tts-1","input":"`+input+`","voice":"alloy","response_format":"wav","speed":1.25,"instructions":"calm"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "audio/wav" || resp.Header.Get("X-Tiergate-Model") != "tts-1" {
		t.Fatalf("status %d, Content-Type %q, model %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("X-Tiergate-Model"))
	}
	want := openaiemu.Speech(input, "wav")
	head := make([]byte, 1024) // the emulator's first piece
	if _, err := io.ReadFull(resp.Body, head); err != nil {
		t.Fatalf("reading the first piece while the upstream holds the rest: %v (the gateway holds audio back)", err)
	}
	if !bytes.Equal(head, want[:1024]) {
		t.Fatal("the first piece differs from the upstream's")
	}
	close(hold)
	released = true
	rest, err := io.ReadAll(resp.Body)
	if err != nil || !bytes.Equal(append(head, rest...), want) {
		t.Fatalf("audio: %d bytes (%v), want %d", len(head)+len(rest), err, len(want))
	}
	got := audioRequests(f.saas)
	if len(got) != 1 || got[0].Path != "/v1/audio/speech" {
		t.Fatalf("openai got %+v", got)
	}
	var sent map[string]any
	json.Unmarshal(got[0].Body, &sent)
	if sent["model"] != "tts-1" || sent["voice"] != "alloy" || sent["speed"] != 1.25 || sent["instructions"] != "calm" || sent["response_format"] != "wav" {
		t.Errorf("upstream body %s", got[0].Body)
	}
}

// TestSpeechFormats: each response_format's audio passes back with its
// Content-Type; the model is rewritten to the upstream's name.
func TestSpeechFormats(t *testing.T) {
	f := startFleetWith(t, 0, audioModels, nil)
	for format, ct := range openaiemu.SpeechContentTypes {
		resp, out := audioPost(t, f.url, "/v1/audio/speech", "application/json",
			[]byte(`{"model":"tts-local","input":"hi","voice":"af_heart","response_format":"`+format+`"}`), nil)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ct || !bytes.Equal(out, openaiemu.Speech("hi", format)) {
			t.Errorf("%s: status %d, Content-Type %q, %d bytes", format, resp.StatusCode, resp.Header.Get("Content-Type"), len(out))
		}
	}
	for _, r := range audioRequests(f.selfhosted) {
		if !strings.Contains(string(r.Body), `"model":"kokoro"`) {
			t.Errorf("self-hosted got %s", r.Body)
		}
	}
}

// TestPrivateAudioStaysOffSaaS: under the private profile, auto
// transcriptions and speech go to the self-hosted server, and a pinned
// SaaS model is refused as chat is (503): no byte reaches a SaaS API.
func TestPrivateAudioStaysOffSaaS(t *testing.T) {
	f := startFleetWith(t, 0, audioModels, nil)
	wav := openaiemu.Speech("private words", "wav")
	private := map[string]string{"X-Tiergate-Profile": "private"}
	for _, model := range []string{"auto", "auto:private"} {
		body, ct := audioForm(t, "p", wav, "model", model)
		hdr := private
		if model != "auto" {
			hdr = nil
		}
		resp, out := audioPost(t, f.url, "/v1/audio/transcriptions", ct, body, hdr)
		if resp.StatusCode != 200 || resp.Header.Get("X-Tiergate-Model") != "whisper-local" {
			t.Errorf("%s: status %d model %q: %s", model, resp.StatusCode, resp.Header.Get("X-Tiergate-Model"), out)
		}
		resp, out = audioPost(t, f.url, "/v1/audio/speech", "application/json", []byte(`{"model":"`+model+`","input":"secret","voice":"x"}`), hdr)
		if resp.StatusCode != 200 || resp.Header.Get("X-Tiergate-Model") != "tts-local" {
			t.Errorf("%s speech: status %d model %q: %s", model, resp.StatusCode, resp.Header.Get("X-Tiergate-Model"), out)
		}
	}
	body, ct := audioForm(t, "p", wav, "model", "whisper-1")
	resp, out := audioPost(t, f.url, "/v1/audio/transcriptions", ct, body, private)
	if resp.StatusCode != 503 || !strings.Contains(string(out), "no_eligible_backend") {
		t.Errorf("pinned whisper-1 under private: %d %s", resp.StatusCode, out)
	}
	resp, out = audioPost(t, f.url, "/v1/audio/speech", "application/json", []byte(`{"model":"tts-1","input":"secret","voice":"x"}`), private)
	if resp.StatusCode != 503 {
		t.Errorf("pinned tts-1 under private: %d %s", resp.StatusCode, out)
	}
	// Without the profile, auto picks the SaaS models: the check above is not vacuous.
	body, ct = audioForm(t, "p", wav, "model", "auto")
	if resp, _ := audioPost(t, f.url, "/v1/audio/transcriptions", ct, body, nil); resp.Header.Get("X-Tiergate-Model") != "whisper-1" {
		t.Errorf("auto without a profile chose %q", resp.Header.Get("X-Tiergate-Model"))
	}
	if n := len(audioRequests(f.saas)) + len(audioRequests(f.groq)); n != 1 {
		t.Errorf("SaaS emulators got %d audio requests, want only the last one", n)
	}
}

// TestAudioFallback: a 500 from the first speech backend moves the
// request to the next before any byte reached the client.
func TestAudioFallback(t *testing.T) {
	f := startFleetWith(t, 0, audioModels, nil)
	f.saas.SetOptions(openaiemu.Options{APIKey: "k1", Fault: openaiemu.Fault{Status: 500}})
	resp, out := audioPost(t, f.url, "/v1/audio/speech", "application/json", []byte(`{"model":"auto","input":"fall back","voice":"alloy","response_format":"mp3"}`), nil)
	if resp.StatusCode != 200 || resp.Header.Get("X-Tiergate-Model") != "tts-local" || resp.Header.Get("X-Tiergate-Attempts") != "2" ||
		!bytes.Equal(out, openaiemu.Speech("fall back", "mp3")) {
		t.Errorf("speech: status %d model %q attempts %q: %.200s", resp.StatusCode, resp.Header.Get("X-Tiergate-Model"), resp.Header.Get("X-Tiergate-Attempts"), out)
	}
	body, ct := audioForm(t, "fb", openaiemu.Speech("x", "wav"), "model", "auto", "response_format", "text")
	resp, out = audioPost(t, f.url, "/v1/audio/transcriptions", ct, body, nil)
	if resp.StatusCode != 200 || resp.Header.Get("X-Tiergate-Model") != "groq-whisper" || resp.Header.Get("X-Tiergate-Attempts") != "2" {
		t.Errorf("transcription: status %d model %q attempts %q: %s", resp.StatusCode, resp.Header.Get("X-Tiergate-Model"), resp.Header.Get("X-Tiergate-Attempts"), out)
	}
	want, _ := audioForm(t, "fb", openaiemu.Speech("x", "wav"), "model", "whisper-large-v3", "response_format", "text")
	if got := audioRequests(f.groq); len(got) != 1 || !bytes.Equal(got[0].Body, want) {
		t.Errorf("the fallback did not get the client's form with its model: %d requests", len(got))
	}
}

// TestAudioErrors: refusals leave in OpenAI's error shape with the
// right status and param, the gateway's own and the upstream's alike.
func TestAudioErrors(t *testing.T) {
	f := startFleetWith(t, 0, audioModels, nil)
	wav := openaiemu.Speech("x", "wav")
	noModel, ctNoModel := audioForm(t, "e", wav, "language", "en")
	badFormat, ctBad := audioForm(t, "e", wav, "model", "whisper-1", "response_format", "mp3")
	chatModel, ctChat := audioForm(t, "e", wav, "model", "gpt-4o")
	unknown, ctUnknown := audioForm(t, "e", wav, "model", "whisper-9")
	for _, tt := range []struct {
		name, path, ct string
		body           string
		status         int
		typ, param     string
		msg            string
	}{
		{"no model", "/v1/audio/transcriptions", ctNoModel, string(noModel), 400, "invalid_request_error", "model", "you must provide a model parameter"},
		{"bad response_format", "/v1/audio/transcriptions", ctBad, string(badFormat), 400, "invalid_request_error", "response_format", "'mp3' is not one of"},
		{"not multipart", "/v1/audio/transcriptions", "application/json", `{"model":"whisper-1"}`, 400, "invalid_request_error", "", "multipart/form-data"},
		{"chat model", "/v1/audio/translations", ctChat, string(chatModel), 400, "invalid_request_error", "", "cannot do speech-to-text"},
		{"unknown model", "/v1/audio/transcriptions", ctUnknown, string(unknown), 404, "invalid_request_error", "model", "does not exist"},
		{"speech without input", "/v1/audio/speech", "application/json", `{"model":"tts-1","voice":"alloy"}`, 400, "invalid_request_error", "input", "input"},
		{"speech format", "/v1/audio/speech", "application/json", `{"model":"tts-1","input":"x","voice":"alloy","response_format":"ogg"}`, 400, "invalid_request_error", "response_format", "'ogg'"},
		{"speech without voice (the upstream's 400)", "/v1/audio/speech", "application/json", `{"model":"tts-1","input":"x"}`, 400, "invalid_request_error", "voice", "voice"},
		{"transcription model for speech", "/v1/audio/speech", "application/json", `{"model":"whisper-1","input":"x","voice":"alloy"}`, 400, "invalid_request_error", "", "cannot do text-to-speech"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, out := audioPost(t, f.url, tt.path, tt.ct, []byte(tt.body), nil)
			var e apiError
			if err := json.Unmarshal(out, &e); err != nil || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("not OpenAI's error shape: %s", out)
			}
			param := ""
			if e.Error.Param != nil {
				param = *e.Error.Param
			}
			if resp.StatusCode != tt.status || e.Error.Type != tt.typ || param != tt.param || !strings.Contains(e.Error.Message, tt.msg) {
				t.Errorf("%d %s", resp.StatusCode, out)
			}
		})
	}
	if n := len(audioRequests(f.saas)); n != 1 {
		t.Errorf("openai got %d audio requests; only the voiceless speech request is the upstream's to refuse", n)
	}
}

// TestAudioTaskNeedsAdapter: a speech task on a provider whose adapter
// serves no audio (Ollama's) is left out of the catalog, so the router
// never picks the model for it: a speech-only model is not there at all
// (404), a model that also chats keeps chat only.
func TestAudioTaskNeedsAdapter(t *testing.T) {
	yaml := `providers:
  ollama: {type: ollama, base_url: "http://127.0.0.1:1", api_key_env: K}
models:
  - {id: whisper-ollama, provider: ollama, upstream: whisper, openness: open-weight, deployment: local, tasks: [speech-to-text]}
  - {id: llama-ears, provider: ollama, upstream: "llama3:8b", openness: open-weight, deployment: local, tasks: [chat, speech-to-text]}
`
	getenv := func(string) string { return "k" }
	cfg, err := config.Load("t", []byte(yaml), getenv)
	if err != nil {
		t.Fatal(err)
	}
	url := apptest.Start(t, cfg, app.Options{Getenv: getenv}).URL
	wav := openaiemu.Speech("x", "wav")
	for model, want := range map[string]string{"whisper-ollama": "model_not_found", "llama-ears": "cannot do speech-to-text", "auto": "unsupported_request"} {
		body, ct := audioForm(t, "n", wav, "model", model)
		resp, out := audioPost(t, url, "/v1/audio/transcriptions", ct, body, nil)
		if resp.StatusCode/100 != 4 || !strings.Contains(string(out), want) {
			t.Errorf("%s: %d %s, want %q", model, resp.StatusCode, out, want)
		}
	}
	resp, err := http.Get(url + "/v1/models/llama-ears")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m struct {
		Tiergate struct {
			Tasks []string `json:"tasks"`
		} `json:"tiergate"`
	}
	json.NewDecoder(resp.Body).Decode(&m)
	if strings.Join(m.Tiergate.Tasks, ",") != "chat" {
		t.Errorf("llama-ears has tasks %v, want [chat]", m.Tiergate.Tasks)
	}
}

// TestAudioKeysAndSpend: a gateway key's forced private profile keeps
// its audio off SaaS, whatever model it names, and a key bounded to
// hosted deployments gets 403 for a SaaS model; a key's spend counts the
// transcribed minutes (the upstream's usage, else the WAV header's
// length) and the spoken characters at the catalog's prices.
func TestAudioKeysAndSpend(t *testing.T) {
	secrets, env := map[string]string{}, map[string]string{}
	extra := audioModels + "auth:\n  keys:\n"
	for _, k := range []struct{ name, policy string }{{"private", `{profile: private}`}, {"bounded", `{deployment: [local, self-hosted]}`}, {"free", `{}`}} {
		s, err := keys.NewSecret()
		if err != nil {
			t.Fatal(err)
		}
		secrets[k.name], env["KEY_"+strings.ToUpper(k.name)] = s, s
		extra += "    - {name: " + k.name + ", key: ${KEY_" + strings.ToUpper(k.name) + "}, policy: " + k.policy + "}\n"
	}
	f := startFleetWith(t, 0, extra, env)
	as := func(key string) map[string]string {
		return map[string]string{"Authorization": "Bearer " + secrets[key]}
	}
	wav := openaiemu.Speech(strings.Repeat("a", 25), "wav") // 1.25 s: the usage says 2
	sec := openaiemu.WAVSeconds(wav)

	body, ct := audioForm(t, "k", wav, "model", "whisper-1")
	if resp, out := audioPost(t, f.url, "/v1/audio/transcriptions", ct, body, as("private")); resp.StatusCode != 200 || resp.Header.Get("X-Tiergate-Model") != "whisper-local" {
		t.Errorf("private key, whisper-1: %d %q %s", resp.StatusCode, resp.Header.Get("X-Tiergate-Model"), out)
	}
	if resp, out := audioPost(t, f.url, "/v1/audio/speech", "application/json", []byte(`{"model":"tts-1","input":"x","voice":"v"}`), as("private")); resp.StatusCode != 200 || resp.Header.Get("X-Tiergate-Model") != "tts-local" {
		t.Errorf("private key, tts-1: %d %q %s", resp.StatusCode, resp.Header.Get("X-Tiergate-Model"), out)
	}
	// A key bounded to hosted deployments: 403 for a pinned SaaS model, as for chat.
	if resp, out := audioPost(t, f.url, "/v1/audio/transcriptions", ct, body, as("bounded")); resp.StatusCode != 403 || !strings.Contains(string(out), "policy_violation") {
		t.Errorf("bounded key, whisper-1: %d %s", resp.StatusCode, out)
	}
	if resp, out := audioPost(t, f.url, "/v1/audio/speech", "application/json", []byte(`{"model":"tts-1","input":"x","voice":"v"}`), as("bounded")); resp.StatusCode != 403 {
		t.Errorf("bounded key, tts-1: %d %s", resp.StatusCode, out)
	}
	if n := len(audioRequests(f.saas)) + len(audioRequests(f.groq)); n != 0 {
		t.Errorf("the private and bounded keys' audio reached SaaS %d times", n)
	}

	// The upstream's usage: whole seconds (the emulator rounds up as OpenAI does).
	if resp, out := audioPost(t, f.url, "/v1/audio/transcriptions", ct, body, as("free")); resp.StatusCode != 200 || !strings.Contains(string(out), `"usage"`) {
		t.Fatalf("%d %s", resp.StatusCode, out)
	}
	// No usage in the answer: the WAV header's length.
	f.saas.SetOptions(openaiemu.Options{APIKey: "k1", Audio: openaiemu.AudioOptions{NoUsage: true}})
	if resp, out := audioPost(t, f.url, "/v1/audio/transcriptions", ct, body, as("free")); resp.StatusCode != 200 || strings.Contains(string(out), `"usage"`) {
		t.Fatalf("%d %s", resp.StatusCode, out)
	}
	input := strings.Repeat("speak ", 100) // 600 characters
	if resp, out := audioPost(t, f.url, "/v1/audio/speech", "application/json", []byte(`{"model":"tts-1","input":"`+input+`","voice":"alloy"}`), as("free")); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, out)
	}
	want := 0.006*math.Ceil(sec)/60 + 0.006*sec/60 + 15*600/1e6
	req, _ := http.NewRequest("GET", f.url+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+secrets["free"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	got := -1.0
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, `tiergate_key_cost_usd_total{key="free"} `); ok {
			got, _ = strconv.ParseFloat(v, 64)
		}
	}
	if math.Abs(got-want) > 1e-9 {
		t.Errorf("the free key spent $%v, want $%v (%.2f s twice at $0.006/min, 600 characters at $15/M)", got, want, sec)
	}
}

// TestSpeechCutIsNotAFile: speech that breaks off after audio reached
// the client ends the response unfinished (the client's read fails), is
// not retried elsewhere, and is not mistaken for a shorter file.
func TestSpeechCutIsNotAFile(t *testing.T) {
	f := startFleetWith(t, 0, audioModels, nil)
	f.saas.SetOptions(openaiemu.Options{APIKey: "k1", Fault: openaiemu.Fault{CutAfter: 1}})
	req, _ := http.NewRequest("POST", f.url+"/v1/audio/speech", strings.NewReader(`{"model":"auto","input":"`+strings.Repeat("long ", 100)+`","voice":"alloy","response_format":"wav"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("X-Tiergate-Model") != "tts-1" || err == nil || len(b) < 1024 {
		t.Errorf("status %d model %q: read %d bytes, err %v; want the first piece, then a failed read", resp.StatusCode, resp.Header.Get("X-Tiergate-Model"), len(b), err)
	}
	if n := len(audioRequests(f.selfhosted)); n != 0 {
		t.Errorf("speech was retried after audio reached the client (%d requests to the fallback)", n)
	}
}
