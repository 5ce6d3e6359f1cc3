package app_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/app"
	"github.com/tiergate/tiergate/internal/app/apptest"
	"github.com/tiergate/tiergate/internal/config"
	"github.com/tiergate/tiergate/internal/testing/emulators/anthropicemu"
	"github.com/tiergate/tiergate/internal/testing/emulators/geminiemu"
	"github.com/tiergate/tiergate/internal/testing/emulators/ollamaemu"
	"github.com/tiergate/tiergate/internal/testing/emulators/openaiemu"
	"github.com/tiergate/tiergate/internal/testing/webtest"
)

// responsesGateway is a gateway with a backend of every kind, each behind
// its emulator: "native" (OpenAI with responses_api: the Responses API
// passes through), "compat" (an OpenAI-compatible server without it: the
// requests are translated into chat), "claude" (Anthropic), "gem"
// (Gemini) and "llama" (Ollama). "native-fb" is the native backend with
// compat as its fallback.
type responsesGateway struct {
	url                 string
	native, compat      *openaiemu.Server
	anthropic           *anthropicemu.Server
	gemini              *geminiemu.Server
	ollama              *ollamaemu.Server
	nativeID, compatURL string
}

func startResponses(t *testing.T) *responsesGateway {
	t.Helper()
	g := &responsesGateway{
		native:    openaiemu.New(openaiemu.Options{APIKey: "k"}),
		compat:    openaiemu.New(openaiemu.Options{APIKey: "k"}),
		anthropic: anthropicemu.New(anthropicemu.Options{APIKey: "k"}),
		gemini:    geminiemu.New(geminiemu.Options{APIKey: "k"}),
		ollama:    ollamaemu.New(ollamaemu.Options{Models: []string{"llama3:8b"}}),
	}
	t.Cleanup(func() { g.native.Close(); g.compat.Close(); g.anthropic.Close(); g.gemini.Close(); g.ollama.Close() })
	m := func(id, provider, upstream string, extra string) string {
		return "  - {id: " + id + ", provider: " + provider + ", upstream: " + upstream + ", openness: proprietary, deployment: saas, tasks: [chat, tools], tier_prior: fast" + extra + "}\n"
	}
	yaml := "router:\n  max_attempts: 2\n" +
		"providers:\n" +
		"  oa:\n    type: openai\n    base_url: " + g.native.URL + "\n    api_key_env: K\n    responses_api: true\n" +
		"  compat:\n    type: openai\n    base_url: " + g.compat.URL + "\n    api_key_env: K\n" +
		"  ant:\n    type: anthropic\n    base_url: " + g.anthropic.URL + "\n    api_key_env: K\n    default_max_tokens: 256\n" +
		"  gem:\n    type: gemini\n    base_url: " + g.gemini.URL + "\n    api_key_env: K\n" +
		"  oll:\n    type: ollama\n    base_url: " + g.ollama.URL + "\n" +
		"models:\n" + m("native", "oa", "gpt-up", "") + m("native-fb", "oa", "gpt-up", ", fallbacks: [compat]") + m("compat", "compat", "compat-up", "") +
		m("claude", "ant", anthropicemu.Models()[0], "") + m("gem", "gem", "gemini-2.5-flash", "") + m("llama", "oll", "llama3:8b", "")
	cfg, err := config.Load("test", []byte(yaml), func(string) string { return "k" })
	if err != nil {
		t.Fatal(err)
	}
	g.url = apptest.Start(t, cfg, app.Options{Getenv: func(string) string { return "k" }}).URL
	return g
}

// event is one event of a Responses stream.
type event struct {
	name string
	data map[string]any
}

// events parses an event stream, checking each event's framing.
func events(t *testing.T, b []byte) []event {
	t.Helper()
	var out []event
	for _, raw := range strings.Split(strings.TrimSuffix(string(b), "\n\n"), "\n\n") {
		name, data, ok := strings.Cut(raw, "\ndata: ")
		if !ok || !strings.HasPrefix(name, "event: ") {
			t.Fatalf("not an event: %q in\n%s", raw, b)
		}
		ev := event{name: strings.TrimPrefix(name, "event: ")}
		if err := json.Unmarshal([]byte(data), &ev.data); err != nil {
			t.Fatalf("event %s: %v", ev.name, err)
		}
		if ev.data["type"] != ev.name {
			t.Errorf("event %s has type %v", ev.name, ev.data["type"])
		}
		out = append(out, ev)
	}
	return out
}

func names(evs []event) []string {
	var out []string
	for _, e := range evs {
		if len(out) > 0 && out[len(out)-1] == e.name && strings.HasSuffix(e.name, ".delta") {
			continue // one entry for a run of deltas
		}
		out = append(out, e.name)
	}
	return out
}

// response is what the tests read of a Response object.
type response struct {
	ID     string `json:"id"`
	Object string `json:"object"`
	Status string `json:"status"`
	Model  string `json:"model"`
	Output []struct {
		Type    string `json:"type"`
		Role    string `json:"role"`
		Content []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"content"`
		CallID    string `json:"call_id"`
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"output"`
	Usage *struct {
		InputTokens  int `json:"input_tokens"`
		OutputTokens int `json:"output_tokens"`
		TotalTokens  int `json:"total_tokens"`
	} `json:"usage"`
	Truncation *string `json:"truncation"` // written by OpenAI, not by the translation
}

func (r *response) text() string {
	var b strings.Builder
	for _, o := range r.Output {
		for _, c := range o.Content {
			if c.Type == "output_text" {
				b.WriteString(c.Text)
			}
		}
	}
	return b.String()
}

func decodeResponse(t *testing.T, b []byte) *response {
	t.Helper()
	var r response
	if err := json.Unmarshal(b, &r); err != nil || r.Object != "response" {
		t.Fatalf("not a Response (%v): %s", err, b)
	}
	return &r
}

func completedOf(t *testing.T, evs []event) *response {
	t.Helper()
	last := evs[len(evs)-1]
	if last.name != "response.completed" {
		t.Fatalf("the stream ends with %s, not response.completed", last.name)
	}
	b, _ := json.Marshal(last.data["response"])
	return decodeResponse(t, b)
}

const weatherTool = `[{"type":"function","name":"get_weather","description":"Current weather","parameters":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}}]`

var jsonCT = map[string]string{"Content-Type": "application/json"}

// TestResponsesEveryBackend: each backend kind answers POST /v1/responses,
// unary and streamed, text and a function call, in the Responses API's
// shapes; the native backend by pass-through, the others translated.
func TestResponsesEveryBackend(t *testing.T) {
	g := startResponses(t)
	textEvents := []string{"response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
		"response.output_text.delta", "response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed"}
	callEvents := []string{"response.created", "response.in_progress", "response.output_item.added", "response.function_call_arguments.delta",
		"response.function_call_arguments.done", "response.output_item.done", "response.completed"}
	for _, model := range []string{"native", "compat", "claude", "gem", "llama"} {
		t.Run(model, func(t *testing.T) {
			resp, b := webtest.Send(t, "POST", g.url+"/v1/responses", `{"model":"`+model+`","instructions":"Be brief.","input":"Say hello","max_output_tokens":64}`, jsonCT)
			if resp.StatusCode != 200 || resp.Header.Get("X-Tiergate-Model") != model {
				t.Fatalf("%d %v: %s", resp.StatusCode, resp.Header, b)
			}
			r := decodeResponse(t, b)
			if r.Status != "completed" || r.text() != openaiemu.DefaultReply || r.Usage == nil || r.Usage.OutputTokens == 0 ||
				r.Usage.TotalTokens != r.Usage.InputTokens+r.Usage.OutputTokens {
				t.Errorf("unary: %s", b)
			}
			if (r.Truncation != nil) != (model == "native") {
				t.Errorf("passed through = %v for %s: %s", r.Truncation != nil, model, b)
			}

			resp, b = webtest.Send(t, "POST", g.url+"/v1/responses", `{"model":"`+model+`","input":[{"role":"user","content":[{"type":"input_text","text":"Say hello"}]}],"stream":true}`, jsonCT)
			if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
				t.Fatalf("stream: %d %s", resp.StatusCode, b)
			}
			evs := events(t, b)
			if got := names(evs); strings.Join(got, " ") != strings.Join(textEvents, " ") {
				t.Errorf("stream events\n%v\nwant\n%v", got, textEvents)
			}
			for i, e := range evs {
				if e.data["sequence_number"] != float64(i) {
					t.Errorf("event %d (%s) has sequence_number %v", i, e.name, e.data["sequence_number"])
				}
			}
			if c := completedOf(t, evs); c.text() != openaiemu.DefaultReply || c.Usage == nil || c.Usage.OutputTokens == 0 {
				t.Errorf("response.completed: %+v", c)
			}

			for _, stream := range []bool{false, true} {
				body := `{"model":"` + model + `","input":"Weather in Paris?","tools":` + weatherTool + `,"stream":` + map[bool]string{true: "true", false: "false"}[stream] + `}`
				resp, b = webtest.Send(t, "POST", g.url+"/v1/responses", body, jsonCT)
				if resp.StatusCode != 200 {
					t.Fatalf("tool call: %d %s", resp.StatusCode, b)
				}
				r := (*response)(nil)
				if stream {
					evs := events(t, b)
					if got := names(evs); strings.Join(got, " ") != strings.Join(callEvents, " ") {
						t.Errorf("tool call events\n%v\nwant\n%v", got, callEvents)
					}
					r = completedOf(t, evs)
				} else {
					r = decodeResponse(t, b)
				}
				if len(r.Output) != 1 || r.Output[0].Type != "function_call" || r.Output[0].Name != "get_weather" || r.Output[0].CallID == "" {
					t.Fatalf("tool call (stream %v): %s", stream, b)
				}
				var got, want any
				json.Unmarshal([]byte(r.Output[0].Arguments), &got)
				json.Unmarshal([]byte(openaiemu.DefaultToolArgs), &want)
				if !jsonEqual(got, want) {
					t.Errorf("arguments %s", r.Output[0].Arguments)
				}
			}
		})
	}

	// Pass-through: the upstream got the client's body but for the
	// model; translated: a chat completion request.
	var nativeBodies, compatPaths []string
	for _, r := range g.native.Requests() {
		if r.Path != "/v1/models" {
			nativeBodies = append(nativeBodies, r.Path+" "+string(r.Body))
		}
	}
	if len(nativeBodies) == 0 || nativeBodies[0] != `/v1/responses {"model":"gpt-up","instructions":"Be brief.","input":"Say hello","max_output_tokens":64}` {
		t.Errorf("the native upstream saw %q", nativeBodies)
	}
	for _, r := range g.compat.Requests() {
		compatPaths = append(compatPaths, r.Path)
	}
	if len(compatPaths) == 0 || compatPaths[0] != "/v1/chat/completions" {
		t.Errorf("the OpenAI-compatible upstream saw %v", compatPaths)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// TestResponsesFunctionCallRoundTrip: the function_call and its output
// reach a translated backend as the assistant's tool call and the tool's
// answer.
func TestResponsesFunctionCallRoundTrip(t *testing.T) {
	g := startResponses(t)
	body := `{"model":"claude","tools":` + weatherTool + `,"input":[{"role":"user","content":"Weather in Paris?"},` +
		`{"type":"function_call","call_id":"toolu_01","name":"get_weather","arguments":"{\"location\":\"Paris\"}"},` +
		`{"type":"function_call_output","call_id":"toolu_01","output":"14 degrees"}],"tool_choice":"none"}`
	resp, b := webtest.Send(t, "POST", g.url+"/v1/responses", body, jsonCT)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	if r := decodeResponse(t, b); r.text() != anthropicemu.DefaultReply {
		t.Errorf("answer %s", b)
	}
	reqs := g.anthropic.Requests()
	last := string(reqs[len(reqs)-1].Body)
	for _, want := range []string{`"tool_use"`, `"toolu_01"`, `"tool_result"`, `14 degrees`} {
		if !strings.Contains(last, want) {
			t.Errorf("Anthropic's request lacks %s: %s", want, last)
		}
	}
}

// TestResponsesFallback: a native backend that fails before any output
// falls back to a translated one, unary and streamed.
func TestResponsesFallback(t *testing.T) {
	g := startResponses(t)
	for _, tc := range []struct {
		name    string
		fault   openaiemu.Fault
		streams []string
	}{{"503", openaiemu.Fault{Status: 503}, []string{"false", "true"}}, {"stream cut before output", openaiemu.Fault{CutAtStart: true}, []string{"true"}}} {
		t.Run(tc.name, func(t *testing.T) {
			g.native.SetOptions(openaiemu.Options{APIKey: "k", Fault: tc.fault})
			for _, stream := range tc.streams {
				resp, b := webtest.Send(t, "POST", g.url+"/v1/responses", `{"model":"native-fb","input":"Say hello","stream":`+stream+`}`, jsonCT)
				if resp.StatusCode != 200 || resp.Header.Get("X-Tiergate-Model") != "compat" || resp.Header.Get("X-Tiergate-Attempts") != "2" {
					t.Fatalf("stream %s: %d %v %s", stream, resp.StatusCode, resp.Header, b)
				}
				var r *response
				if stream == "true" {
					r = completedOf(t, events(t, b))
				} else {
					r = decodeResponse(t, b)
				}
				if r.text() != openaiemu.DefaultReply {
					t.Errorf("stream %s: %s", stream, b)
				}
			}
		})
	}
}

// TestResponsesRefusedAndErrors: what a stateless gateway cannot serve,
// and upstream failures, leave in OpenAI's error shape with the right
// status; a stream broken after output ends with response.failed and an
// error event.
func TestResponsesRefusedAndErrors(t *testing.T) {
	g := startResponses(t)
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		says                     string
	}{
		{"previous_response_id", "POST", "/v1/responses", `{"model":"native","input":"more","previous_response_id":"resp_123"}`, 400, "stateless"},
		{"built-in tool", "POST", "/v1/responses", `{"model":"native","input":"x","tools":[{"type":"web_search"}]}`, 400, `"web_search"`},
		{"retrieve", "GET", "/v1/responses/resp_123", "", 404, "stores no responses"},
		{"delete", "DELETE", "/v1/responses/resp_123", "", 404, "stores no responses"},
		{"unknown model", "POST", "/v1/responses", `{"model":"nope","input":"x"}`, 404, "nope"},
		{"no model", "POST", "/v1/responses", `{"input":"x"}`, 400, "model"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := webtest.Send(t, tc.method, g.url+tc.path, tc.body, jsonCT)
			var e struct {
				Error *struct {
					Message string `json:"message"`
					Type    string `json:"type"`
				} `json:"error"`
			}
			if json.Unmarshal(b, &e); resp.StatusCode != tc.status || e.Error == nil || !strings.Contains(e.Error.Message, tc.says) {
				t.Fatalf("%d %s", resp.StatusCode, b)
			}
		})
	}
	for _, model := range []string{"compat", "native"} {
		t.Run("stream broken after output: "+model, func(t *testing.T) {
			emu := map[string]*openaiemu.Server{"compat": g.compat, "native": g.native}[model]
			emu.SetOptions(openaiemu.Options{APIKey: "k", Fault: openaiemu.Fault{ErrorAfter: 2, Message: "overloaded"}, ChunkGap: time.Millisecond})
			defer emu.SetOptions(openaiemu.Options{APIKey: "k"})
			resp, b := webtest.Send(t, "POST", g.url+"/v1/responses", `{"model":"`+model+`","input":"x","stream":true}`, jsonCT)
			if resp.StatusCode != 200 {
				t.Fatalf("%d %s", resp.StatusCode, b)
			}
			evs := events(t, b)
			if len(evs) < 3 || evs[len(evs)-2].name != "response.failed" || evs[len(evs)-1].name != "error" ||
				!strings.Contains(evs[len(evs)-1].data["message"].(string), "overloaded") {
				t.Fatalf("stream %s", b)
			}
			for _, e := range evs {
				if e.name == "response.completed" {
					t.Fatalf("a broken stream says response.completed: %s", b)
				}
			}
		})
	}
	// Last: the Retry-After cools the provider down.
	t.Run("upstream 429", func(t *testing.T) {
		g.compat.SetOptions(openaiemu.Options{APIKey: "k", Fault: openaiemu.Fault{Status: 429, Message: "slow down", RetryAfter: "7"}})
		defer g.compat.SetOptions(openaiemu.Options{APIKey: "k"})
		resp, b := webtest.Send(t, "POST", g.url+"/v1/responses", `{"model":"compat","input":"x"}`, jsonCT)
		if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(b), `"slow down"`) {
			t.Fatalf("%d %v %s", resp.StatusCode, resp.Header, b)
		}
	})
}

// TestResponsesDroppedParams: a sampling setting the backend cannot take
// is dropped and named in X-Tiergate-Dropped, as for a chat completion;
// the pass-through backend takes it as sent.
func TestResponsesDroppedParams(t *testing.T) {
	g := startResponses(t)
	for model, want := range map[string]string{"claude": "temperature,top_p", "native": "", "compat": ""} {
		resp, b := webtest.Send(t, "POST", g.url+"/v1/responses", `{"model":"`+model+`","input":"x","temperature":0.3,"top_p":0.9}`, jsonCT)
		if resp.StatusCode != 200 || resp.Header.Get("X-Tiergate-Dropped") != want {
			t.Errorf("%s: %d X-Tiergate-Dropped %q, want %q: %s", model, resp.StatusCode, resp.Header.Get("X-Tiergate-Dropped"), want, b)
		}
	}
	reqs := g.compat.Requests()
	if last := string(reqs[len(reqs)-1].Body); !strings.Contains(last, `"temperature":0.3`) || !strings.Contains(last, `"top_p":0.9`) {
		t.Errorf("the OpenAI-compatible server did not get the settings: %s", last)
	}
}
