package router

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/catalog"
	"github.com/tiergate/tiergate/internal/providers"
)

var groqModels = []string{"groq-llama3-8b", "groq-llama3-70b", "groq-mixtral-8x7b"}

// try runs one attempt on model that ends with err.
func try(t *testing.T, r *Router, clk *clock, model string, err error) {
	t.Helper()
	a, ok := r.Begin(Candidate{Model: mustModel(t, r, model)})
	if !ok {
		t.Fatalf("%s not admitted", model)
	}
	clk.add(10 * time.Millisecond)
	a.Done(&providers.Result{}, err, false)
}

// why returns what explain says of model ("" when eligible) and the rule.
func why(t *testing.T, r *Router, model string) (string, string) {
	t.Helper()
	d, _ := r.Route(&Query{Model: "auto", Task: catalog.Chat, Explain: true})
	for _, c := range d.Considered {
		if c.Model == model {
			return c.ExcludedBy, c.Why
		}
	}
	t.Fatalf("%s not considered", model)
	return "", ""
}

// TestProviderBreaker: provider-level failures on different models of
// one provider open its provider-wide circuit after three in a row;
// explain says why for every model of it; after open_for exactly one
// trial goes through, and its success closes the circuit.
func TestProviderBreaker(t *testing.T) {
	clk := newClock()
	cfg := loadDefault(t)
	r := newRouter(t, cfg, clk)
	try(t, r, clk, "groq-llama3-8b", fail(500, 0))
	try(t, r, clk, "groq-llama3-70b", &providers.Error{Status: http.StatusGatewayTimeout, Message: "sent no first byte within 5s"})
	if rule, _ := why(t, r, "groq-mixtral-8x7b"); rule != "" {
		t.Fatalf("open after two failures: %s", rule)
	}
	try(t, r, clk, "groq-mixtral-8x7b", errors.New("dial tcp: connection refused"))
	for _, m := range groqModels {
		rule, w := why(t, r, m)
		if rule != "availability" || !strings.HasPrefix(w, "provider groq: circuit open") {
			t.Errorf("%s: excluded by %q: %q", m, rule, w)
		}
	}
	if _, ok := r.Begin(Candidate{Model: mustModel(t, r, "groq-llama3-8b")}); ok {
		t.Fatal("an open provider admitted a request")
	}
	d, err := r.Route(chatQuery("auto:realtime", "hi"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range d.Candidates {
		if c.Model.Provider == "groq" {
			t.Fatalf("an open provider's model was routed to: %v", ids(d))
		}
	}
	clk.add(cfg.Router.ProviderBreaker.OpenFor)
	a1, ok1 := r.Begin(Candidate{Model: mustModel(t, r, "groq-llama3-8b")})
	_, ok2 := r.Begin(Candidate{Model: mustModel(t, r, "groq-llama3-70b")})
	if !ok1 || ok2 {
		t.Fatalf("half-open provider admitted %v then %v, want one trial", ok1, ok2)
	}
	a1.Done(&providers.Result{}, nil, false)
	for _, m := range groqModels {
		if rule, w := why(t, r, m); rule != "" {
			t.Errorf("%s after a good trial: %s %s", m, rule, w)
		}
	}
	// A trial whose client went away decides nothing: the next may try.
	for i := 0; i < 3; i++ {
		try(t, r, clk, groqModels[i], fail(503, 0))
	}
	clk.add(cfg.Router.ProviderBreaker.OpenFor)
	a, _ := r.Begin(Candidate{Model: mustModel(t, r, "groq-llama3-8b")})
	a.Done(nil, context.Canceled, true)
	if _, ok := r.Begin(Candidate{Model: mustModel(t, r, "groq-llama3-70b")}); !ok {
		t.Fatal("a cancelled trial kept the provider's trial slot")
	}
}

// TestProviderFaultKinds: which failures count against the provider.
func TestProviderFaultKinds(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{errors.New("read: connection reset by peer"), true},
		{providers.TransportError("groq", errors.New("tls: handshake failure")), true},
		{&providers.Error{Status: 502}, true},
		{&providers.Error{Status: 503}, true},
		{&providers.Error{Status: 504}, true},
		{&providers.Error{Status: 401}, true},
		{&providers.Error{Status: 403}, true},
		{&providers.Error{Status: 429}, false},
		{&providers.Error{Status: 400}, false},
		{&providers.Error{Status: 404}, false},
		{nil, false},
	} {
		if got := ProviderFault(tc.err); got != tc.want {
			t.Errorf("ProviderFault(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// TestRetryAfterScope: a 429's Retry-After cools that model only and
// never opens the provider; a 503's cools the whole provider.
func TestRetryAfterScope(t *testing.T) {
	clk := newClock()
	r := newRouter(t, loadDefault(t), clk)
	for i := 0; i < 5; i++ {
		try(t, r, clk, "groq-llama3-8b", fail(429, 0))
	}
	try(t, r, clk, "groq-llama3-8b", fail(429, 2*time.Second))
	if rule, w := why(t, r, "groq-llama3-8b"); rule != "availability" || !strings.Contains(w, "cooling down") || strings.HasPrefix(w, "provider ") {
		t.Errorf("429: groq-llama3-8b excluded by %q: %q", rule, w)
	}
	if rule, w := why(t, r, "groq-llama3-70b"); rule != "" {
		t.Errorf("a 429 on another model excluded groq-llama3-70b: %s", w)
	}
	clk.add(2 * time.Second)
	try(t, r, clk, "groq-llama3-70b", fail(503, 3*time.Second))
	for _, m := range groqModels {
		if rule, w := why(t, r, m); rule != "availability" || !strings.HasPrefix(w, "provider groq: cooling down") {
			t.Errorf("503: %s excluded by %q: %q", m, rule, w)
		}
	}
	// Every candidate cooling: the 503 says when to come back.
	_, err := r.Route(&Query{Model: "auto", Task: catalog.Chat, Route: &Route{Only: []string{"groq"}}})
	var pe *providers.Error
	if !errors.As(err, &pe) || pe.Status != 503 || pe.RetryAfter <= 2*time.Second || pe.RetryAfter > 3*time.Second {
		t.Fatalf("all cooling: %v (Retry-After %v)", err, pe.RetryAfter)
	}
}

// TestRouteAvoiding: routing again without the providers that failed
// gives the best of the others, keeps a parsed route object's own rules,
// and never gives fallbacks to a pinned model or a request that allows
// none.
func TestRouteAvoiding(t *testing.T) {
	r := newRouter(t, loadDefault(t), nil)
	q := chatQuery("auto:realtime", "hello")
	d, err := r.Route(q)
	if err != nil || d.Candidates[0].Model.Provider != "groq" {
		t.Fatalf("realtime leads with %v (%v)", ids(d), err)
	}
	others := r.RouteAvoiding(q, []string{"groq"})
	if len(others) == 0 {
		t.Fatal("no other provider under realtime")
	}
	for _, c := range others {
		if c.Model.Provider == "groq" {
			t.Errorf("avoiding groq gave %s", c.Model.ID)
		}
	}
	rt, err := r.ParseRoute([]byte(`{"ignore":["openai"]}`))
	if err != nil {
		t.Fatal(err)
	}
	q.Route = rt
	for _, c := range r.RouteAvoiding(q, []string{"groq"}) {
		if c.Model.Provider == "groq" || c.Model.Provider == "openai" {
			t.Errorf("avoiding groq with route.ignore openai gave %s", c.Model.ID)
		}
	}
	if again, _ := r.ParseRoute([]byte(`{"ignore":["openai"]}`)); len(again.Ignore) != 1 {
		t.Errorf("the parsed route was changed: %v", again.Ignore)
	}
	if c := r.RouteAvoiding(&Query{Model: "groq-mixtral-8x7b", Task: catalog.Chat}, []string{"groq"}); c != nil {
		t.Errorf("a pinned model got other fallbacks: %v", c)
	}
	no := false
	if c := r.RouteAvoiding(&Query{Model: "auto", Task: catalog.Chat, Route: &Route{AllowFallbacks: &no}}, []string{"groq"}); c != nil {
		t.Errorf("allow_fallbacks false got fallbacks: %v", c)
	}
}

// TestAdaptiveDeadline: a multiple of what the backend has shown, at
// least the floor, at most ttft_timeout; the last candidate gets
// ttft_timeout; a failure counts as a sample at least as slow as the
// deadline.
func TestAdaptiveDeadline(t *testing.T) {
	clk := newClock()
	cfg := loadDefault(t)
	cfg.Router.TTFTFloor, cfg.Router.UnaryFloor, cfg.Router.TTFTMultiple, cfg.Router.TTFTTimeout = time.Second, 3*time.Second, 4, 10*time.Second
	r := newRouter(t, cfg, clk)
	deadline := func(model string, stream, last bool) time.Duration {
		a, ok := r.Begin(Candidate{Model: mustModel(t, r, model)})
		if !ok {
			t.Fatalf("%s not admitted", model)
		}
		d := a.FirstByteDeadline(stream, last)
		a.Done(nil, context.Canceled, true)
		return d
	}
	// groq-llama3-8b: ultra-fast prior (200 ms) × 4 < the floor.
	if d := deadline("groq-llama3-8b", true, false); d != time.Second {
		t.Errorf("ultra-fast prior: %v, want the floor", d)
	}
	if d := deadline("groq-llama3-8b", false, false); d != 3*time.Second {
		t.Errorf("unary, nothing shown: %v, want the unary floor", d)
	}
	if d := deadline("groq-llama3-8b", true, true); d != 10*time.Second {
		t.Errorf("last candidate: %v, want ttft_timeout", d)
	}
	if d := deadline("llama3-8b", true, false); d != 10*time.Second {
		t.Errorf("a local model: %v, want ttft_timeout (loading is not a hang)", d)
	}
	// A streamed TTFT of 2 s: 8 s.
	a, _ := r.Begin(Candidate{Model: mustModel(t, r, "gpt-4o")})
	a.FirstByteDeadline(true, false)
	start := clk.t
	clk.add(2 * time.Second)
	a.Done(&providers.Result{Timing: providers.Timing{Start: start, FirstToken: clk.t, End: clk.t}}, nil, false)
	if d := deadline("gpt-4o", true, false); d != 8*time.Second {
		t.Errorf("after a 2 s TTFT: %v, want 8s", d)
	}
	// A unary answer of 5 s: 20 s, capped at ttft_timeout.
	a, _ = r.Begin(Candidate{Model: mustModel(t, r, "gpt-4o")})
	a.FirstByteDeadline(false, false)
	clk.add(5 * time.Second)
	a.Done(&providers.Result{}, nil, false)
	if d := deadline("gpt-4o", false, false); d != 10*time.Second {
		t.Errorf("after a 5 s unary answer: %v, want ttft_timeout", d)
	}
	// A quick failure is a sample as slow as the deadline.
	b := r.backends["groq-llama3-8b"]
	try(t, r, clk, "groq-llama3-8b", fail(500, 0))
	if l := b.live.Load(); l.ewma < float64(time.Second) {
		t.Errorf("latency average after a failure %v, want at least the deadline", time.Duration(l.ewma))
	}
}
