package tiers

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tiergate/tiergate/configs"
	"github.com/tiergate/tiergate/internal/catalog"
	"github.com/tiergate/tiergate/internal/config"
	"github.com/tiergate/tiergate/internal/testing/golden"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func defaultRules(t *testing.T) []config.TierRule {
	t.Helper()
	cfg, err := config.Load(configs.DefaultName, configs.Default(), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Tiers.Rules) == 0 {
		t.Fatal("the default configuration has no tier rules")
	}
	return cfg.Tiers.Rules
}

// TestAssignDefaults checks the default thresholds against figures
// published for the framework's reference backends.
func TestAssignDefaults(t *testing.T) {
	rules := defaultRules(t)
	for _, tc := range []struct {
		name   string
		ttft   time.Duration
		tokps  float64
		want   catalog.Tier
		missed catalog.Tier
	}{
		{"Groq Llama 3 8B", 220 * time.Millisecond, 800, catalog.UltraFast, ""},
		{"fast TTFT but 100 tok/s", 200 * time.Millisecond, 100, catalog.Fast, catalog.UltraFast},
		{"Llama 3 8B on a consumer GPU", 300 * time.Millisecond, 70, catalog.Fast, catalog.UltraFast},
		{"GPT-4 Turbo", 900 * time.Millisecond, 25, catalog.Moderate, catalog.Fast},
		{"exactly on the moderate bounds", 3 * time.Second, 15, catalog.Moderate, catalog.Fast},
		{"GPT-4 at 12 tok/s", 1200 * time.Millisecond, 12, catalog.Slow, catalog.Moderate},
		{"high throughput but 5 s TTFT", 5 * time.Second, 300, catalog.Slow, catalog.Moderate},
		{"CPU-only 70B", 8 * time.Second, 1.5, catalog.Slow, catalog.Moderate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tier, rule := Assign(rules, tc.ttft, tc.tokps)
			if tier != tc.want {
				t.Fatalf("Assign(%v, %.0f tok/s) = %s, want %s", tc.ttft, tc.tokps, tier, tc.want)
			}
			if (rule == nil) != (tc.want == catalog.Slow) || (rule != nil && rule.Tier != tc.want) {
				t.Errorf("rule %+v for tier %s", rule, tier)
			}
			d := Decide(rules, tc.ttft, tc.tokps)
			if d.Missed == nil && tc.missed != "" || d.Missed != nil && d.Missed.Tier != tc.missed {
				t.Errorf("missed %+v, want %q", d.Missed, tc.missed)
			}
			if d.Reason == "" {
				t.Error("no reason")
			}
		})
	}
}

func TestDecideReasons(t *testing.T) {
	rules := []config.TierRule{
		{Tier: catalog.Fast, MaxTTFT: time.Second, MinTokensPerSecond: 50},
		{Tier: catalog.Moderate, MaxTTFT: 3 * time.Second, MinTokensPerSecond: 15},
	}
	for _, tc := range []struct {
		ttft  time.Duration
		tokps float64
		want  []string
	}{
		{500 * time.Millisecond, 60, []string{"TTFT p50 500ms <= 1000ms", "60.0 tok/s >= 50", "fast rule"}},
		{500 * time.Millisecond, 20, []string{"moderate rule", "fast needs >= 50 tok/s (measured 20.0)"}},
		{2 * time.Second, 60, []string{"fast needs TTFT <= 1000ms (measured 2000ms)"}},
		{4 * time.Second, 10, []string{"no rule met", "moderate needs TTFT <= 3000ms and >= 15 tok/s"}},
		{20 * time.Second, 10, []string{"(measured 20.00s, 10.0 tok/s)"}},
	} {
		d := Decide(rules, tc.ttft, tc.tokps)
		for _, w := range tc.want {
			if !strings.Contains(d.Reason, w) {
				t.Errorf("Decide(%v, %v).Reason = %q, want it to contain %q", tc.ttft, tc.tokps, d.Reason, w)
			}
		}
	}
	if tier, rule := Assign(nil, time.Millisecond, 1000); tier != catalog.Slow || rule != nil {
		t.Errorf("with no rules: %s %v, want slow and no rule", tier, rule)
	}
}

func sample() *File {
	at := time.Date(2025, 6, 1, 11, 58, 40, 0, time.UTC)
	rules := []config.TierRule{
		{Tier: catalog.UltraFast, MaxTTFT: 400 * time.Millisecond, MinTokensPerSecond: 250, Source: "Groq"},
		{Tier: catalog.Fast, MaxTTFT: time.Second, MinTokensPerSecond: 50, Source: "consumer GPU"},
	}
	return &File{
		GeneratedAt: at.Add(time.Minute), Generator: "tiergate bench",
		Tiers: []Entry{
			NewEntry("llama3-8b", "ollama", "llama3:8b", rules, 210500*time.Microsecond, 64.25, 10, at),
			NewEntry("groq-llama3-8b", "groq", "llama-3.1-8b-instant", rules, 180*time.Millisecond, 900, 10, at),
			NewEntry("ollama/tiny:latest", "ollama", "tiny:latest", rules, 1500*time.Millisecond, 3, 4, at),
		},
	}
}

func TestGoldenFile(t *testing.T) {
	b, err := Marshal(sample())
	if err != nil {
		t.Fatal(err)
	}
	golden.File(t, "tiers.json", b)
	want, err := os.ReadFile(filepath.Join("testdata", "tiers.json"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(want)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := Marshal(f)
	if !bytes.Equal(again, want) {
		t.Errorf("Parse then Marshal changed the file:\n%s", again)
	}
	if f.Tiers[0].Tier != catalog.Fast || f.Tiers[0].Rule == nil || f.Tiers[0].Rule.MaxTTFTMs != 1000 || f.Tiers[0].Missed.Tier != catalog.UltraFast {
		t.Errorf("llama3-8b entry: %+v", f.Tiers[0])
	}
	if f.Tiers[2].Tier != catalog.Slow || f.Tiers[2].Rule != nil || f.Tiers[2].Missed.Tier != catalog.Fast {
		t.Errorf("tiny entry: %+v", f.Tiers[2])
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"empty", "  \n", "empty"},
		{"not json", "tiers: []", "not valid JSON"},
		{"trailing", `{"version":1,"tiers":[]} {}`, "data after"},
		{"no version", `{"tiers":[]}`, `no "version"`},
		{"future version", `{"version":9,"tiers":[]}`, "version 9"},
		{"no model", `{"version":1,"tiers":[{"tier":"fast"}]}`, "model is empty"},
		{"bad tier", `{"version":1,"tiers":[{"model":"m","tier":"turbo"}]}`, `tier "turbo"`},
		{"negative", `{"version":1,"tiers":[{"model":"m","tier":"fast","ttft_p50_ms":-1}]}`, "not negative"},
		{"bad rule", `{"version":1,"tiers":[{"model":"m","tier":"fast","rule":{"tier":"x"}}]}`, "rule"},
		{"duplicate", `{"version":1,"tiers":[{"model":"m","provider":"p","tier":"fast"},{"model":"m","provider":"p","tier":"slow"}]}`, "twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse(%q) = %v, want an error containing %q", tc.in, err, tc.want)
			}
		})
	}
	if _, err := Parse([]byte(`{"version":1,"tiers":[{"model":"m","tier":"fast","future_field":1}],"other":true}`)); err != nil {
		t.Errorf("unknown keys should be ignored: %v", err)
	}
}

func TestLookupAndMerge(t *testing.T) {
	f := sample()
	if e, ok := f.Lookup(&catalog.Model{ID: "llama3-8b", Provider: "ollama", Upstream: "llama3:8b"}); !ok || e.Tier != catalog.Fast {
		t.Errorf("by id: %+v %v", e, ok)
	}
	// A catalog that names the same backend differently still finds it.
	if e, ok := f.Lookup(&catalog.Model{ID: "my-llama", Provider: "ollama", Upstream: "llama3:8b"}); !ok || e.Model != "llama3-8b" {
		t.Errorf("by provider and upstream: %+v %v", e, ok)
	}
	if _, ok := f.Lookup(&catalog.Model{ID: "gpt-4o", Provider: "openai", Upstream: "gpt-4o"}); ok {
		t.Error("found an entry for an unmeasured model")
	}
	var nilFile *File
	if _, ok := nilFile.Lookup(&catalog.Model{ID: "x"}); ok {
		t.Error("nil file found an entry")
	}

	later := time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)
	upd := &File{GeneratedAt: later, Generator: "tiergate bench", Tiers: []Entry{
		{Model: "llama3-8b", Provider: "ollama", Upstream: "llama3:8b", Tier: catalog.Moderate, MeasuredAt: later},
		{Model: "gpt-4o", Provider: "openai", Upstream: "gpt-4o", Tier: catalog.Fast, MeasuredAt: later},
	}}
	m := Merge(f, upd)
	var got []string
	for _, e := range m.Tiers {
		got = append(got, e.Model+"="+string(e.Tier))
	}
	want := "gpt-4o=fast groq-llama3-8b=ultra-fast llama3-8b=moderate ollama/tiny:latest=slow"
	if strings.Join(got, " ") != want {
		t.Errorf("Merge = %v, want %s", got, want)
	}
	if !m.GeneratedAt.Equal(later) {
		t.Errorf("GeneratedAt %v, want the update's", m.GeneratedAt)
	}
}

func TestWriteLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tiers.json")
	if _, err := Load(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of a missing file: %v, want fs.ErrNotExist", err)
	}
	if err := Write(path, sample()); err != nil {
		t.Fatal(err)
	}
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Tiers) != 3 || f.Version != Version {
		t.Errorf("loaded %+v", f)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("Write left temporary files: %v", ents)
	}
	if err := os.WriteFile(path, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("Load of a broken file: %v, want an error naming the file", err)
	}
}

type event struct {
	f   *File
	err error
}

func TestWatch(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tiers.json")
	events := make(chan event, 16)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Watch(ctx, path, 10*time.Millisecond, func(f *File, err error) { events <- event{f, err} })
	}()
	next := func(what string) event {
		t.Helper()
		select {
		case ev := <-events:
			return ev
		case <-time.After(10 * time.Second):
			t.Fatalf("no callback after %s", what)
			return event{}
		}
	}
	if ev := next("start"); !errors.Is(ev.err, fs.ErrNotExist) {
		t.Fatalf("first callback for a missing file: %+v, want fs.ErrNotExist", ev)
	}

	f := sample()
	if err := Write(path, f); err != nil {
		t.Fatal(err)
	}
	if ev := next("the file appeared"); ev.err != nil || len(ev.f.Tiers) != 3 {
		t.Fatalf("after the file appeared: %+v", ev)
	}

	f.Tiers = f.Tiers[:1]
	if err := Write(path, f); err != nil {
		t.Fatal(err)
	}
	if ev := next("a rewrite"); ev.err != nil || len(ev.f.Tiers) != 1 {
		t.Fatalf("after a rewrite: %+v", ev)
	}

	if err := os.WriteFile(path, []byte(`{"version":1,"tiers":[{"model":""}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if ev := next("a broken rewrite"); ev.err == nil || ev.f != nil {
		t.Fatalf("after a broken rewrite: %+v, want an error", ev)
	}

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if ev := next("removal"); !errors.Is(ev.err, fs.ErrNotExist) {
		t.Fatalf("after removal: %+v", ev)
	}
	// Nothing changes: no further callbacks.
	select {
	case ev := <-events:
		t.Errorf("callback without a change: %+v", ev)
	case <-time.After(100 * time.Millisecond):
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Watch returned %v, want context.Canceled", err)
	}
}

// FuzzParse checks that Parse never panics and that whatever it accepts
// survives Marshal and Parse unchanged.
func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "tiers.json")); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"version":1,"tiers":[]}`))
	f.Add([]byte(`{"version":1,"tiers":[{"model":"m","tier":"slow","rule":null,"missed":{"tier":"fast","max_ttft_ms":1e3}}]}`))
	f.Add([]byte(`{"version":1,"generated_at":"2025-01-01T00:00:00Z","tiers":[{"model":"a","tier":"fast","ttft_p50_ms":1e308}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		if err != nil {
			return
		}
		b, err := Marshal(file)
		if err != nil {
			t.Fatalf("Marshal of a parsed file: %v", err)
		}
		again, err := Parse(b)
		if err != nil {
			t.Fatalf("Parse(Marshal(Parse(x))): %v\n%s", err, b)
		}
		b2, _ := Marshal(again)
		if !bytes.Equal(b, b2) {
			t.Fatalf("not stable:\n%s\n%s", b, b2)
		}
	})
}
