package statuspage

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestHealthWords: each state reads in words, the most serious first,
// with when it ends and why; never the breaker's own words.
func TestHealthWords(t *testing.T) {
	soon := fixedNow.Add(5*time.Minute + 10*time.Second)
	tomorrow := fixedNow.Add(25 * time.Hour)
	cases := []struct {
		name   string
		b      Backend
		health string
		text   string
	}{
		{"closed", Backend{State: "closed"}, Healthy, "healthy"},
		{"closed with a few errors", Backend{State: "closed", Requests: 10, Errors: 4}, Healthy, "healthy"},
		{"failing", Backend{State: "closed", Requests: 10, Errors: 5, LastError: "openai: 500 boom"}, Failing,
			"failing: 5 of 10 requests failed in the last 5 min: openai: 500 boom"},
		{"429 Retry-After", Backend{State: "closed", CooldownUntil: soon, CooldownReason: "429 Retry-After"}, CoolingDown,
			"cooling down until 12:05:10 UTC (429 Retry-After)"},
		{"Retry-After over", Backend{State: "closed", CooldownUntil: fixedNow.Add(-time.Second), CooldownReason: "429 Retry-After"}, Healthy, "healthy"},
		{"open", Backend{State: "open", OpenUntil: soon, Failures: 6, LastError: "timeout"}, CoolingDown,
			"cooling down until 12:05:10 UTC (circuit open after 6 failures): timeout"},
		{"open until tomorrow", Backend{State: "open", OpenUntil: tomorrow}, CoolingDown,
			"cooling down until 2025-06-02 13:00 UTC (circuit open after failures)"},
		{"half-open", Backend{State: "half-open"}, Trial, "trial request: the circuit lets one request through to test recovery"},
		{"provider half-open", Backend{State: "closed", ProviderState: "half-open"}, Trial,
			"trial request: the provider's circuit lets one request through to test recovery"},
		{"provider open", Backend{State: "closed", ProviderState: "open", ProviderOpenUntil: soon, ProviderLastError: "groq: connection refused"}, ProviderDown,
			"provider down: circuit open until 12:05:10 UTC after the provider's failures: groq: connection refused"},
		{"provider cooling", Backend{State: "open", ProviderState: "closed", ProviderCooldownUntil: soon}, ProviderDown,
			"provider down: cooling down until 12:05:10 UTC (503 Retry-After)"},
		{"disabled", Backend{State: "disabled", StateReason: "no API key"}, Disabled, "disabled (no API key)"},
		{"unknown", Backend{State: "weird"}, Unknown, "unknown (weird)"},
	}
	for _, c := range cases {
		h, text := health(&c.b, fixedNow, 300)
		if h != c.health || text != c.text {
			t.Errorf("%s: %q %q, want %q %q", c.name, h, text, c.health, c.text)
		}
		for _, raw := range []string{"closed", "half-open"} {
			if text == raw || strings.HasPrefix(text, raw+" ") {
				t.Errorf("%s: the headline is the breaker's word %q", c.name, text)
			}
		}
	}
}

// TestKeysNearLimits: a key at 80% or more of its budget, rpm, tpm or
// concurrency is listed with the reasons, on the page and in the JSON;
// one below every limit, or without limits, is not.
func TestKeysNearLimits(t *testing.T) {
	ks := []Key{
		{ID: "key_a", Name: "legal", SpendUSD: 8.5, BudgetUSD: 10, Period: "month", RPM: 10, RPMUsed: 8},
		{ID: "key_b", Name: "batch", TPM: 1000, TPMUsed: 950, MaxConcurrent: 2, InFlight: 1},
		{ID: "key_c", Name: "calm", SpendUSD: 7.9, BudgetUSD: 10, RPM: 10, RPMUsed: 7},
		{ID: "key_d", Name: "free", Requests: 1000, SpendUSD: 500},
		{ID: "key_e", Name: `<i>x</i>`, MaxConcurrent: 1, InFlight: 1},
	}
	h := newHandler(func() Snapshot { return Snapshot{Keys: ks} }, func() time.Time { return fixedNow })
	var st Status
	if err := json.Unmarshal(mustRead(t, get(t, h, http.MethodGet, "/status.json")), &st); err != nil {
		t.Fatal(err)
	}
	if want := []string{"<i>x</i>", "batch", "legal"}; !slices.Equal(st.KeysNearLimits, want) {
		t.Errorf("keys near their limits %v, want %v", st.KeysNearLimits, want)
	}
	near := map[string][]string{}
	for _, k := range st.Keys {
		near[k.Name] = k.Near
	}
	if want := []string{"budget 85% spent ($8.50 of $10.00 this month)", "rpm 8 of 10 used in the last minute"}; !slices.Equal(near["legal"], want) {
		t.Errorf("legal: %q, want %q", near["legal"], want)
	}
	if want := []string{"tpm 950 of 1000 used in the last minute"}; !slices.Equal(near["batch"], want) {
		t.Errorf("batch: %q, want %q", near["batch"], want)
	}
	if near["calm"] != nil || near["free"] != nil {
		t.Errorf("calm %q, free %q: listed though below every limit", near["calm"], near["free"])
	}
	body, _ := io.ReadAll(get(t, h, http.MethodGet, "/").Body)
	page := string(body)
	if strings.Contains(page, "<i>x</i>") {
		t.Error("a key's name is not escaped")
	}
	for _, want := range []string{"<b>legal</b>: budget 85% spent ($8.50 of $10.00 this month); rpm 8 of 10 used in the last minute",
		"$10.00 per month (85% spent)", "950 of 1000", "1 of 2", "0 (no limit)"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}
