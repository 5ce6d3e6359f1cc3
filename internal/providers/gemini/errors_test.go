package gemini

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/providers"
	"github.com/tiergate/tiergate/internal/testing/conformance"
	"github.com/tiergate/tiergate/internal/testing/emulators/geminiemu"
)

// Google error bodies as the API sends them (shapes from the API's error
// model; the API-key bodies as users have quoted them, including the
// DebugInfo detail that echoes the key).
const (
	keyInvalidBody = `{
  "error": {
    "code": 400,
    "message": "API key not valid. Please pass a valid API key.",
    "status": "INVALID_ARGUMENT",
    "details": [
      {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com",
       "metadata": {"service": "generativelanguage.googleapis.com"}},
      {"@type": "type.googleapis.com/google.rpc.DebugInfo", "detail": "Invalid API key: ` + testKey + `"}
    ]
  }
}`
	quotaBody = `{
  "error": {
    "code": 429,
    "message": "You exceeded your current quota, please check your plan and billing details.",
    "status": "RESOURCE_EXHAUSTED",
    "details": [
      {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests"}]},
      {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "30s"}
    ]
  }
}`
)

func googleError(code int, status, msg string) string {
	return `{"error": {"code": ` + strconv.Itoa(code) + `, "message": "` + msg + `", "status": "` + status + `"}}`
}

func TestErrorMapping(t *testing.T) {
	cases := []struct {
		name       string
		status     int
		header     http.Header
		body       string
		wantStatus int
		wantType   string
		retryable  bool
		retryAfter time.Duration
		contains   []string
	}{
		{"invalid key", 400, nil, keyInvalidBody, 401, providers.TypeAuthentication, false, 0, []string{"GEMINI_API_KEY", "API key not valid"}},
		{"missing key", 403, nil, googleError(403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API."),
			401, providers.TypeAuthentication, false, 0, []string{"GEMINI_API_KEY"}},
		{"key in 403", 403, nil, googleError(403, "PERMISSION_DENIED", "API key not valid for this project."), 401, providers.TypeAuthentication, false, 0, []string{"GEMINI_API_KEY"}},
		{"unauthenticated", 401, nil, googleError(401, "UNAUTHENTICATED", "Request had invalid authentication credentials."), 401, providers.TypeAuthentication, false, 0, []string{"GEMINI_API_KEY"}},
		{"permission denied", 403, nil, googleError(403, "PERMISSION_DENIED", "Permission denied: Consumer has been suspended."), 403, providers.TypePermission, false, 0, []string{"suspended"}},
		{"invalid argument", 400, nil, googleError(400, "INVALID_ARGUMENT", "Please use a valid role: user, model."), 400, providers.TypeInvalidRequest, false, 0, []string{"valid role"}},
		{"failed precondition", 400, nil, googleError(400, "FAILED_PRECONDITION", "User location is not supported for the API use."), 400, providers.TypeInvalidRequest, false, 0, []string{"location"}},
		{"model not found", 404, nil, googleError(404, "NOT_FOUND", "models/gemini-9 is not found for API version v1beta, or is not supported for generateContent."), 404, providers.TypeNotFound, false, 0, []string{"gemini-9"}},
		{"quota with RetryInfo", 429, nil, quotaBody, 429, providers.TypeRateLimit, true, 30 * time.Second, []string{"quota"}},
		{"quota with Retry-After header", 429, http.Header{"Retry-After": {"7"}}, googleError(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."), 429, providers.TypeRateLimit, true, 7 * time.Second, nil},
		{"unavailable", 503, nil, googleError(503, "UNAVAILABLE", "The model is overloaded. Please try again later."), 503, providers.TypeUnavailable, true, 0, []string{"overloaded"}},
		{"internal", 500, nil, googleError(500, "INTERNAL", "An internal error has occurred."), 502, providers.TypeUpstream, true, 0, []string{"internal"}},
		{"deadline exceeded", 504, nil, googleError(504, "DEADLINE_EXCEEDED", "Deadline expired before operation could complete."), 504, providers.TypeUpstream, true, 0, nil},
		{"HTML 502 from a proxy", 502, nil, "<html><body>Bad Gateway</body></html>", 502, providers.TypeUpstream, true, 0, nil},
		{"empty 503", 503, nil, "", 503, providers.TypeUnavailable, true, 0, nil},
	}
	for _, tc := range cases {
		for _, stream := range []bool{false, true} {
			name := tc.name
			if stream {
				name += "/stream"
			}
			t.Run(name, func(t *testing.T) {
				up := newReplay(t, tc.status, "application/json; charset=UTF-8", []byte(tc.body))
				h := http.Header{"Content-Type": {"application/json; charset=UTF-8"}}
				for k, v := range tc.header {
					h[k] = v
				}
				up.set(tc.status, h, []byte(tc.body))
				p := newProvider(t, up.URL)
				req := &providers.ChatRequest{Model: testModel, Body: []byte(hiBody), Stream: stream}
				_, err := p.Chat(context.Background(), req, &conformance.Collect{})
				pe := conformance.AsError(t, err)
				if pe.Status != tc.wantStatus || pe.Type != tc.wantType || pe.Retryable != tc.retryable {
					t.Errorf("got %d %s retryable=%v, want %d %s retryable=%v (%s)", pe.Status, pe.Type, pe.Retryable,
						tc.wantStatus, tc.wantType, tc.retryable, pe.Message)
				}
				if pe.RetryAfter != tc.retryAfter {
					t.Errorf("RetryAfter = %v, want %v", pe.RetryAfter, tc.retryAfter)
				}
				if pe.Provider != "gemini" {
					t.Errorf("Provider = %q", pe.Provider)
				}
				for _, s := range tc.contains {
					if !strings.Contains(pe.Message, s) {
						t.Errorf("message %q lacks %q", pe.Message, s)
					}
				}
				if strings.Contains(pe.Error(), testKey) || strings.Contains(pe.Message, testKey) {
					t.Errorf("the API key leaked: %s", pe.Message)
				}
				conformance.NoRetry(t, up.requests())
			})
		}
	}
}

// TestEmulatorFaults runs the router-relevant failures through the
// emulator: each maps to the right status, and no call is retried.
func TestEmulatorFaults(t *testing.T) {
	cases := []struct {
		name       string
		opts       geminiemu.Options
		wantStatus int
		retryable  bool
		retryAfter time.Duration
	}{
		{"wrong key", geminiemu.Options{APIKey: "another-key"}, 401, false, 0},
		{"429 with Retry-After", geminiemu.Options{Fault: geminiemu.Fault{Status: 429, RetryAfter: "12"}}, 429, true, 12 * time.Second},
		{"503", geminiemu.Options{Fault: geminiemu.Fault{Status: 503}}, 503, true, 0},
		{"500", geminiemu.Options{Fault: geminiemu.Fault{Status: 500}}, 502, true, 0},
		{"reset", geminiemu.Options{Fault: geminiemu.Fault{Reset: true}}, 502, true, 0},
	}
	for _, tc := range cases {
		for _, stream := range []bool{false, true} {
			t.Run(tc.name+map[bool]string{false: "/unary", true: "/stream"}[stream], func(t *testing.T) {
				emu := newEmulator(t, tc.opts)
				p := newProvider(t, emu.URL)
				_, err := p.Chat(context.Background(), &providers.ChatRequest{Model: testModel, Body: []byte(hiBody), Stream: stream}, &conformance.Collect{})
				pe := conformance.AsError(t, err)
				if pe.Status != tc.wantStatus || pe.Retryable != tc.retryable || pe.RetryAfter != tc.retryAfter {
					t.Errorf("stream=%v: got %d retryable=%v after=%v (%s)", stream, pe.Status, pe.Retryable, pe.RetryAfter, pe.Message)
				}
				if strings.Contains(pe.Message, testKey) || strings.Contains(pe.Message, "another-key") {
					t.Errorf("a key leaked: %s", pe.Message)
				}
				conformance.NoRetry(t, emu.Requests())
			})
		}
	}
}

func TestUnknownModel(t *testing.T) {
	emu := newEmulator(t, geminiemu.Options{})
	p := newProvider(t, emu.URL)
	_, err := p.Chat(context.Background(), &providers.ChatRequest{Model: "gpt-4o", Body: []byte(hiBody)}, nil)
	pe := conformance.AsError(t, err)
	if pe.Status != 404 || pe.Code != "model_not_found" || !strings.Contains(pe.Message, "gpt-4o") {
		t.Errorf("got %+v", pe)
	}
	for _, bad := range []string{"", "a/b", "x?alt=json", "../models", "m:generateContent"} {
		_, err := p.Chat(context.Background(), &providers.ChatRequest{Model: bad, Body: []byte(hiBody)}, nil)
		if pe := conformance.AsError(t, err); pe.Status != 400 || pe.Param != "model" {
			t.Errorf("model %q: got %+v", bad, pe)
		}
	}
}

func TestTransportFailure(t *testing.T) {
	emu := newEmulator(t, geminiemu.Options{})
	url := emu.URL
	emu.Close() // nothing listens any more
	p := newProvider(t, url)
	_, err := p.Chat(context.Background(), &providers.ChatRequest{Model: testModel, Body: []byte(hiBody)}, nil)
	pe := conformance.AsError(t, err)
	if pe.Status != 502 || !pe.Retryable || !strings.Contains(pe.Message, "cannot reach gemini") {
		t.Errorf("got %+v", pe)
	}
	if strings.Contains(pe.Message, testKey) {
		t.Error("key leaked")
	}
}

func TestNewValidation(t *testing.T) {
	if _, err := New(providers.Options{Name: "g", KeyEnv: "MY_GEMINI_KEY"}); err == nil || !strings.Contains(err.Error(), "MY_GEMINI_KEY") {
		t.Errorf("missing key: %v", err)
	}
	if _, err := New(providers.Options{APIKey: testKey, BaseURL: "https://user:" + testKey + "@example.com/"}); err == nil || strings.Contains(err.Error(), testKey) {
		t.Errorf("credentials in URL: %v", err)
	}
	if _, err := New(providers.Options{APIKey: testKey, BaseURL: "example.com"}); err == nil {
		t.Error("relative URL accepted")
	}
	p, err := New(providers.Options{APIKey: testKey})
	if err != nil || p.Name() != "gemini" {
		t.Errorf("defaults: %v %v", p, err)
	}
}

// TestHeadersAndKey: extra headers reach the upstream and the key only
// travels in x-goog-api-key.
func TestHeadersAndKey(t *testing.T) {
	emu := newEmulator(t, geminiemu.Options{})
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	p, err := New(providers.Options{BaseURL: emu.URL, APIKey: testKey, HTTPClient: &http.Client{Transport: tr},
		Headers: map[string]string{"X-Tenant": "acme"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Chat(context.Background(), &providers.ChatRequest{Model: testModel, Body: []byte(hiBody)}, nil); err != nil {
		t.Fatal(err)
	}
	r := emu.Requests()[0]
	if r.Header.Get("X-Tenant") != "acme" || r.Header.Get("X-Goog-Api-Key") != testKey || strings.Contains(r.Query, "key=") {
		t.Errorf("headers %v query %q", r.Header, r.Query)
	}
}
