package conformance_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/providers"
	"github.com/tiergate/tiergate/internal/providers/anthropic"
	"github.com/tiergate/tiergate/internal/providers/gemini"
	"github.com/tiergate/tiergate/internal/providers/ollama"
	"github.com/tiergate/tiergate/internal/providers/openai"
	"github.com/tiergate/tiergate/internal/testing/conformance"
	"github.com/tiergate/tiergate/internal/testing/emulators/anthropicemu"
	"github.com/tiergate/tiergate/internal/testing/emulators/emu"
	"github.com/tiergate/tiergate/internal/testing/emulators/geminiemu"
	"github.com/tiergate/tiergate/internal/testing/emulators/ollamaemu"
	"github.com/tiergate/tiergate/internal/testing/emulators/openaiemu"
	"github.com/tiergate/tiergate/internal/testing/leak"
)

func TestMain(m *testing.M) {
	leak.VerifyTestMain(m)
}

// upstream is one emulator setting: the key it expects and the fault it
// injects. Wrap, when set, stands between the adapter and the emulator
// (a proxy that adds headers, say).
type upstream struct {
	key   string
	fault emu.Fault
	reply string // the assistant text; empty for the emulator's default
	wrap  func(t *testing.T, base string) string
}

// adapter knows how to start an adapter's emulator and the adapter itself.
type adapter struct {
	name  string
	model string
	// start runs the emulator and returns the base URL to configure.
	start func(t *testing.T, u upstream) string
	// build makes the adapter for base with key, logging to log.
	build func(t *testing.T, base, key string, log *slog.Logger) providers.Provider
	// unsupported is a chat body with a parameter the provider cannot
	// honour, and that parameter; empty for a pass-through adapter, which
	// forwards every parameter for the upstream to judge.
	unsupported, param string
	// keyed reports whether the provider authenticates with a key (so that
	// a wrong key gets the upstream's 401).
	keyed bool
}

// options are the adapter options every build uses.
func options(t *testing.T, name, base, key, env string, log *slog.Logger) providers.Options {
	return providers.Options{Name: name, BaseURL: base, APIKey: key, KeyEnv: env, HTTPClient: conformance.Client(t), Logger: log}
}

// must fails the test if an adapter cannot be built.
func must(t *testing.T) func(providers.Provider, error) providers.Provider {
	return func(p providers.Provider, err error) providers.Provider {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
}

func geminiFault(f emu.Fault) geminiemu.Fault {
	return geminiemu.Fault{Status: f.Status, Message: f.Message, RetryAfter: f.RetryAfter, Hang: f.Hang,
		Reset: f.Reset, CutAfter: f.CutAfter, ErrorAfter: f.ErrorAfter}
}

func wrapped(t *testing.T, u upstream, base string) string {
	if u.wrap != nil {
		return u.wrap(t, base)
	}
	return base
}

var adapters = []adapter{
	{
		name: "openai", model: "gpt-4o-mini", keyed: true,
		start: func(t *testing.T, u upstream) string {
			return wrapped(t, u, conformance.Serve(t, openaiemu.New(openaiemu.Options{APIKey: u.key, Fault: u.fault, Reply: u.reply})).URL)
		},
		build: func(t *testing.T, base, key string, log *slog.Logger) providers.Provider {
			return must(t)(openai.New(options(t, "openai", base, key, "OPENAI_API_KEY", log)))
		},
	},
	{
		name: "anthropic", model: "claude-haiku-4-5", keyed: true,
		start: func(t *testing.T, u upstream) string {
			return wrapped(t, u, conformance.Serve(t, anthropicemu.New(anthropicemu.Options{APIKey: u.key, Fault: u.fault, Reply: u.reply})).URL)
		},
		build: func(t *testing.T, base, key string, log *slog.Logger) providers.Provider {
			return must(t)(anthropic.New(options(t, "anthropic", base, key, "ANTHROPIC_API_KEY", log)))
		},
		unsupported: `{"model":"x","messages":[{"role":"user","content":"hi"}],"logprobs":true}`, param: "logprobs",
	},
	{
		name: "gemini", model: "gemini-2.5-flash", keyed: true,
		start: func(t *testing.T, u upstream) string {
			return wrapped(t, u, conformance.Serve(t, geminiemu.New(geminiemu.Options{APIKey: u.key, Fault: geminiFault(u.fault), Reply: u.reply})).URL)
		},
		build: func(t *testing.T, base, key string, log *slog.Logger) providers.Provider {
			return must(t)(gemini.New(options(t, "gemini", base, key, "GEMINI_API_KEY", log)))
		},
		unsupported: `{"model":"x","messages":[{"role":"user","content":"hi"}],"logit_bias":{"50256":-100}}`, param: "logit_bias",
	},
	{
		name: "ollama", model: "llama3:8b",
		start: func(t *testing.T, u upstream) string {
			return wrapped(t, u, conformance.Serve(t, ollamaemu.New(ollamaemu.Options{Fault: u.fault, Reply: u.reply})).URL)
		},
		build: func(t *testing.T, base, key string, log *slog.Logger) providers.Provider {
			return must(t)(ollama.New(options(t, "ollama", base, key, "", log)))
		},
		unsupported: `{"model":"x","messages":[{"role":"user","content":"hi"}],"n":2}`, param: "n",
	},
}

const testKey = "sk-conformance-0123456789abcdef"

const (
	plainBody = `{"model":"x","messages":[{"role":"user","content":"Say hello."}]}`
	toolsBody = `{"model":"x","messages":[{"role":"user","content":"Weather in Paris?"}],"tools":[{"type":"function","function":{"name":"get_weather","description":"Current weather","parameters":{"type":"object","properties":{"location":{"type":"string"},"unit":{"type":"string"}},"required":["location"]}}}]}`
)

func withStream(body string) string { return strings.TrimSuffix(body, "}") + `,"stream":true}` }

// outcome is what a call gave, as the golden files record it.
type outcome struct {
	Body         json.RawMessage   `json:"body,omitempty"`
	Chunks       []json.RawMessage `json:"chunks,omitempty"`
	FinishReason string            `json:"finish_reason,omitempty"`
	Usage        *providers.Usage  `json:"usage,omitempty"`
	Error        *errorOutcome     `json:"error,omitempty"`
	Arguments    string            `json:"streamed_arguments,omitempty"`
}

type errorOutcome struct {
	Status     int    `json:"status"`
	Type       string `json:"type"`
	Code       string `json:"code,omitempty"`
	Param      string `json:"param,omitempty"`
	Retryable  bool   `json:"retryable"`
	RetryAfter string `json:"retry_after,omitempty"`
}

type call struct {
	body         string
	stream       bool
	includeUsage bool
}

func run(t *testing.T, p providers.Provider, model string, c call) (*providers.Result, *conformance.Collect, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sink := &conformance.Collect{}
	res, err := p.Chat(ctx, &providers.ChatRequest{Model: model, Body: []byte(c.body), Stream: c.stream, IncludeUsage: c.includeUsage}, sink)
	return res, sink, err
}

func record(t *testing.T, res *providers.Result, sink *conformance.Collect, err error) outcome {
	t.Helper()
	var o outcome
	if res != nil {
		if len(res.Body) > 0 {
			o.Body = conformance.Volatile(t, res.Body)
		}
		if err == nil {
			o.FinishReason, o.Usage = res.FinishReason, res.Usage
		}
	}
	var args strings.Builder
	for _, c := range sink.All() {
		o.Chunks = append(o.Chunks, conformance.Volatile(t, c))
	}
	for _, c := range conformance.ParseChunks(t, sink.All()) {
		for _, ch := range c.Choices {
			for _, tc := range ch.Delta.ToolCalls {
				args.WriteString(tc.Function.Arguments)
			}
		}
	}
	o.Arguments = args.String()
	if err != nil {
		pe := conformance.AsError(t, err)
		o.Error = &errorOutcome{Status: pe.Status, Type: pe.Type, Code: pe.Code, Param: pe.Param, Retryable: pe.Retryable}
		if pe.RetryAfter > 0 {
			o.Error.RetryAfter = pe.RetryAfter.String()
		}
	}
	return o
}

// TestConformance runs every case against every adapter and its emulator.
// Each case checks what any OpenAI client relies on, and records the whole
// outcome in testdata/<adapter>/<case>.json.
func TestConformance(t *testing.T) {
	cases := []struct {
		name  string
		up    upstream
		call  call
		key   string // the adapter's key, when not the emulator's
		check func(t *testing.T, a adapter, o outcome)
	}{
		{name: "unary", call: call{body: plainBody}, check: func(t *testing.T, a adapter, o outcome) {
			if o.Error != nil {
				t.Fatalf("not a complete chat.completion: %+v", o.Error)
			}
			c := conformance.ParseCompletion(t, o.Body)
			if len(c.Choices) != 1 ||
				c.Choices[0].Message.Role != "assistant" || c.Choices[0].Message.Content == nil || *c.Choices[0].Message.Content == "" ||
				c.Choices[0].FinishReason == nil || *c.Choices[0].FinishReason != "stop" || o.Usage == nil || o.Usage.TotalTokens == 0 {
				t.Errorf("not a complete chat.completion: %s", o.Body)
			}
		}},
		{name: "stream", call: call{body: withStream(plainBody), stream: true}, check: func(t *testing.T, a adapter, o outcome) {
			if o.Error != nil || len(o.Chunks) < 3 || o.FinishReason != "stop" {
				t.Fatalf("stream: error %+v, %d chunks, finish %q", o.Error, len(o.Chunks), o.FinishReason)
			}
			for _, c := range o.Chunks {
				var u struct {
					Usage json.RawMessage `json:"usage"`
				}
				if json.Unmarshal(c, &u); len(u.Usage) > 0 && string(u.Usage) != "null" {
					t.Errorf("a usage chunk was sent without include_usage: %s", c)
				}
			}
		}},
		{name: "include_usage", call: call{body: withStream(plainBody), stream: true, includeUsage: true}, check: func(t *testing.T, a adapter, o outcome) {
			if o.Error != nil || len(o.Chunks) == 0 {
				t.Fatalf("stream failed: %+v", o.Error)
			}
			var last struct {
				Choices []json.RawMessage `json:"choices"`
				Usage   *struct {
					TotalTokens int `json:"total_tokens"`
				} `json:"usage"`
			}
			if json.Unmarshal(o.Chunks[len(o.Chunks)-1], &last) != nil || last.Usage == nil || last.Usage.TotalTokens == 0 || last.Choices == nil || len(last.Choices) != 0 {
				t.Errorf("the last chunk is not a usage chunk with empty choices: %s", o.Chunks[len(o.Chunks)-1])
			}
		}},
		{name: "tools_stream", call: call{body: withStream(toolsBody), stream: true}, check: func(t *testing.T, a adapter, o outcome) {
			var args, want any
			json.Unmarshal([]byte(openaiemu.DefaultToolArgs), &want)
			if o.Error != nil || json.Unmarshal([]byte(o.Arguments), &args) != nil || fmt.Sprint(args) != fmt.Sprint(want) || o.FinishReason != "tool_calls" {
				t.Errorf("streamed tool call: error %+v, arguments %q, finish %q", o.Error, o.Arguments, o.FinishReason)
			}
		}},
		{name: "cut_mid_stream", up: upstream{fault: emu.Fault{CutAfter: 2}}, call: call{body: withStream(plainBody), stream: true}, check: func(t *testing.T, a adapter, o outcome) {
			if o.Error == nil || o.Error.Status/100 != 5 || len(o.Chunks) == 0 {
				t.Errorf("a cut stream must end in a 5xx error after the chunks sent: %+v, %d chunks", o.Error, len(o.Chunks))
			}
			if o.FinishReason != "" {
				t.Errorf("a cut stream reported finish %q", o.FinishReason)
			}
		}},
		{name: "rate_limited", up: upstream{fault: emu.Fault{Status: 429, RetryAfter: "3"}}, call: call{body: plainBody}, check: func(t *testing.T, a adapter, o outcome) {
			if o.Error == nil || o.Error.Status != 429 || !o.Error.Retryable || o.Error.RetryAfter != "3s" {
				t.Errorf("429 with Retry-After: 3 gave %+v", o.Error)
			}
		}},
		{name: "unauthorized", key: "sk-wrong-key-000000000000", call: call{body: plainBody}, check: func(t *testing.T, a adapter, o outcome) {
			if o.Error == nil || o.Error.Status != 401 || o.Error.Retryable {
				t.Errorf("a rejected key gave %+v, want a 401 that is not retried", o.Error)
			}
		}},
		{name: "unsupported_parameter", call: call{}, check: func(t *testing.T, a adapter, o outcome) {
			if a.param == "" {
				if o.Error != nil {
					t.Errorf("a pass-through adapter refused a parameter: %+v", o.Error)
				}
				return
			}
			if o.Error == nil || o.Error.Status != 400 || o.Error.Param != a.param || o.Error.Retryable {
				t.Errorf("a parameter the provider cannot honour gave %+v, want a 400 naming %q", o.Error, a.param)
			}
		}},
	}
	for _, a := range adapters {
		for _, tc := range cases {
			t.Run(a.name+"/"+tc.name, func(t *testing.T) {
				up := tc.up
				up.key = testKey
				key := testKey
				if tc.key != "" {
					key = tc.key
					if !a.keyed { // no key to reject: the upstream says 401
						up.fault = emu.Fault{Status: 401, Message: "unauthorized"}
					}
				}
				c := tc.call
				if tc.name == "unsupported_parameter" {
					c.body = a.unsupported
					if c.body == "" {
						c.body = `{"model":"x","messages":[{"role":"user","content":"hi"}],"logprobs":true,"top_logprobs":2}`
					}
				}
				p := a.build(t, a.start(t, up), key, slog.New(slog.DiscardHandler))
				res, sink, err := run(t, p, a.model, c)
				o := record(t, res, sink, err)
				tc.check(t, a, o)
				b, _ := json.Marshal(o)
				conformance.GoldenJSON(t, a.name+"/"+tc.name+".json", b)
			})
		}
	}
}

// keyShapes are API keys of many shapes: with and without a known prefix,
// with characters that URL and JSON encoding change, short and long.
var keyShapes = []string{
	"sk-proj-AbCdEf0123456789xyzXYZ",
	"gsk_0123456789abcdefABCDEF0123",
	"AIzaSyD-1234567890abcdefghijklm",
	"plainlowercasekeywithoutprefix",
	"key/with+slash=and=equals==",
	"0123456789",
}

// echoes are the texts in which an upstream repeats the key.
func echoes(key string) map[string]string {
	return map[string]string{
		"bare":       key,
		"glued":      "auth failed for key=" + key + "; try again",
		"urlencoded": "GET /v1/models?key=" + url.QueryEscape(key) + " failed",
		"base64":     "credentials " + base64.StdEncoding.EncodeToString([]byte("user:"+key)) + " rejected",
	}
}

// echoHeaders is a proxy in front of an emulator that adds the key to
// every response's headers, as a misconfigured upstream might.
func echoHeaders(key string) func(t *testing.T, base string) string {
	return func(t *testing.T, base string) string {
		u, _ := url.Parse(base)
		rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: u.Scheme, Host: u.Host})
		rp.ModifyResponse = func(r *http.Response) error {
			r.Header.Set("X-Debug-Key", key)
			r.Header.Set("Www-Authenticate", `Bearer error="invalid_token", key="`+key+`"`)
			return nil
		}
		rp.ErrorLog = nil
		s := httptest.NewServer(rp)
		t.Cleanup(s.Close)
		return s.URL + u.Path
	}
}

// leaks lists the forms of key found in text.
func leaks(key, text string) []string {
	var out []string
	forms := map[string]string{"raw": key, "urlencoded": url.QueryEscape(key)}
	if len(key) >= 12 {
		// The stable middle of the key's base64, whatever stands before it.
		enc := base64.StdEncoding.EncodeToString([]byte("user:" + key))
		forms["base64"] = enc[8 : len(enc)-8]
	}
	for name, f := range forms {
		if strings.Contains(text, f) {
			out = append(out, name)
		}
	}
	return out
}

// TestNoKeyLeaves: whatever shape the key has, and however an upstream
// echoes it (in an error body, an in-stream error event or a header), it
// never reaches the client's result or error, nor a log line.
func TestNoKeyLeaves(t *testing.T) {
	channels := []struct {
		name   string
		stream bool
		up     func(key, echo string) upstream
		ok     bool // the call succeeds (the key is in the answer itself)
	}{
		{"answer", false, func(key, echo string) upstream { return upstream{key: key, reply: echo} }, true},
		{"answer_stream", true, func(key, echo string) upstream { return upstream{key: key, reply: echo} }, true},
		{"error_body_500", false, func(key, echo string) upstream {
			return upstream{key: key, fault: emu.Fault{Status: 500, Message: echo}}
		}, false},
		{"error_body_400", false, func(key, echo string) upstream {
			return upstream{key: key, fault: emu.Fault{Status: 400, Message: echo}}
		}, false},
		{"error_event", true, func(key, echo string) upstream {
			return upstream{key: key, fault: emu.Fault{ErrorAfter: 1, Message: echo}}
		}, false},
		{"headers_401", false, func(key, echo string) upstream {
			return upstream{key: key + "-not", wrap: echoHeaders(echo)}
		}, false},
	}
	for _, a := range adapters {
		for _, ch := range channels {
			for _, key := range keyShapes {
				for ename, echo := range echoes(key) {
					if ch.ok && (ename == "urlencoded" || ename == "base64") {
						// Answers pass on with only the cheap check for the
						// key as given; encoded forms are scrubbed from
						// errors, where upstreams echo them.
						continue
					}
					t.Run(fmt.Sprintf("%s/%s/%s/%s", a.name, ch.name, key, ename), func(t *testing.T) {
						var logs bytes.Buffer // the adapters log from the calling goroutine only
						log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
						up := ch.up(key, echo)
						if !a.keyed && ch.name == "headers_401" {
							up.fault = emu.Fault{Status: 401, Message: echo}
						}
						p := a.build(t, a.start(t, up), key, log)
						body := plainBody
						if ch.stream {
							body = withStream(plainBody)
						}
						res, sink, err := run(t, p, a.model, call{body: body, stream: ch.stream})
						if (err == nil) != ch.ok {
							t.Fatalf("err = %v, want success %v", err, ch.ok)
						}
						var seen strings.Builder
						if err != nil {
							pe := conformance.AsError(t, err)
							fmt.Fprintf(&seen, "%s\n%s\n%s\n%s\n", err.Error(), pe.Message, pe.Code, pe.Param)
						}
						if res != nil {
							seen.Write(res.Body)
						}
						for _, c := range sink.All() {
							seen.Write(c)
						}
						if l := leaks(key, seen.String()); len(l) > 0 {
							t.Errorf("the client sees the key (%v): %s", l, seen.String())
						}
						if l := leaks(key, logs.String()); len(l) > 0 {
							t.Errorf("the log holds the key (%v): %s", l, logs.String())
						}
					})
				}
			}
		}
	}
}

// TestAddressStaysInTheLog: an upstream that cannot be reached is named to
// the client by provider, not by host:port; the log says where.
func TestAddressStaysInTheLog(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: connection refused
	for _, a := range adapters {
		t.Run(a.name, func(t *testing.T) {
			var logs bytes.Buffer // the adapters log from the calling goroutine only
			log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			p := a.build(t, "http://"+addr, testKey, log)
			_, _, err := run(t, p, a.model, call{body: plainBody})
			pe := conformance.AsError(t, err)
			if pe.Status != http.StatusBadGateway || !pe.Retryable {
				t.Errorf("connection refused gave %d retryable=%v", pe.Status, pe.Retryable)
			}
			if strings.Contains(pe.Message, addr) || strings.Contains(err.Error(), addr) {
				t.Errorf("the client error names the upstream's address: %q", pe.Message)
			}
			if !strings.Contains(logs.String(), addr) {
				t.Errorf("the log does not say which address failed:\n%s", logs.String())
			}
			if errors.Is(err, context.DeadlineExceeded) {
				t.Error("timed out instead of failing at once")
			}
		})
	}
}
