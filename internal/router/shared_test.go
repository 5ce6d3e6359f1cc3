package router

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/catalog"
	"github.com/tiergate/tiergate/internal/providers"
)

// pair is two replicas' routers on one clock: what a tells (OnShare) is
// applied to b, as the transport would; what b tells is kept, to show
// that applying tells nothing.
func pair(t *testing.T) (a, b *Router, clk *clock, told, echoed *[]Shared) {
	t.Helper()
	clk = newClock()
	cfg := loadDefault(t)
	a, b = newRouter(t, cfg, clk), newRouter(t, cfg, clk)
	told, echoed = &[]Shared{}, &[]Shared{}
	a.sh.out = func(ev Shared) {
		*told = append(*told, ev)
		// Through JSON, as it travels.
		raw, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		var got Shared
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatal(err)
		}
		b.ApplyShared(got)
	}
	b.sh.out = func(ev Shared) { *echoed = append(*echoed, ev) }
	return a, b, clk, told, echoed
}

// TestSharedBreakers: what opens a circuit or starts a cool-down on one
// replica is told once, with its expiry, and excludes the same backends
// on the other until then, without the other telling anything back; a
// half-open trial that passes closes the circuit on both.
func TestSharedBreakers(t *testing.T) {
	tests := []struct {
		name   string
		fail   func(t *testing.T, a *Router, clk *clock)
		want   Shared // Kind, Name, State; Until as an offset from the clock's start
		until  time.Duration
		model  string // excluded on b
		whyHas string
	}{
		{name: "provider circuit", fail: func(t *testing.T, a *Router, clk *clock) {
			for _, m := range groqModels {
				try(t, a, clk, m, fail(500, 0))
			}
		}, want: Shared{Kind: SharedProvider, Name: "groq", State: Open}, until: 30*time.Millisecond + 10*time.Second,
			model: "groq-mixtral-8x7b", whyHas: "provider groq: circuit open after failures of the provider (last: another replica: boom)"},
		{name: "model circuit", fail: func(t *testing.T, a *Router, clk *clock) {
			for range 10 {
				try(t, a, clk, "gpt-4o", fail(429, 0))
			}
		}, want: Shared{Kind: SharedModel, Name: "gpt-4o", State: Open}, until: 100*time.Millisecond + 30*time.Second,
			model: "gpt-4o", whyHas: "circuit open"},
		{name: "model cool-down", fail: func(t *testing.T, a *Router, clk *clock) {
			try(t, a, clk, "gpt-4o-mini", fail(429, time.Minute))
		}, want: Shared{Kind: SharedModel, Name: "gpt-4o-mini", State: Cooldown}, until: 10*time.Millisecond + time.Minute,
			model: "gpt-4o-mini", whyHas: "cooling down for 1m0s"},
		{name: "provider cool-down", fail: func(t *testing.T, a *Router, clk *clock) {
			try(t, a, clk, "groq-llama3-8b", fail(503, 20*time.Second))
		}, want: Shared{Kind: SharedProvider, Name: "groq", State: Cooldown}, until: 10*time.Millisecond + 20*time.Second,
			model: "groq-llama3-70b", whyHas: "provider groq: cooling down for 20s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b, clk, told, echoed := pair(t)
			start := clk.t
			tt.fail(t, a, clk)
			if len(*told) != 1 {
				t.Fatalf("told %+v, want one event", *told)
			}
			ev := (*told)[0]
			if ev.Kind != tt.want.Kind || ev.Name != tt.want.Name || ev.State != tt.want.State || !ev.Until.Equal(start.Add(tt.until)) || ev.Reason != "boom" {
				t.Errorf("told %+v, want %+v until %v", ev, tt.want, start.Add(tt.until))
			}
			if rule, why := why(t, b, tt.model); rule != "availability" || !strings.Contains(why, tt.whyHas) {
				t.Errorf("on the other replica %s is excluded by %q: %q, want availability: %q", tt.model, rule, why, tt.whyHas)
			}
			// Not a local failure: nothing counted, nothing told back, and
			// applying it again changes nothing.
			if bb := b.backends[tt.model]; bb.curErr != 0 || bb.ph.curErr != 0 {
				t.Errorf("the other replica counted failures: model %d, provider %d", bb.curErr, bb.ph.curErr)
			}
			if b.ApplyShared(ev) {
				t.Error("applying the same event twice changed something")
			}
			if len(*echoed) != 0 {
				t.Errorf("the other replica told %+v", *echoed)
			}
			// Until the expiry, not after.
			clk.t = start.Add(tt.until - time.Millisecond)
			if rule, _ := why(t, b, tt.model); rule != "availability" {
				t.Errorf("just before the expiry %s is admitted", tt.model)
			}
			clk.t = start.Add(tt.until)
			if rule, w := why(t, b, tt.model); rule != "" {
				t.Errorf("at the expiry %s is still excluded: %s", tt.model, w)
			}
			if b.ApplyShared(ev) {
				t.Error("an expired event applied")
			}
		})
	}
}

// TestSharedClose: the half-open trial that passes on one replica closes
// the provider's circuit on the other at once (it would otherwise wait
// for its own trial); a circuit that opened after that trial stays open.
func TestSharedClose(t *testing.T) {
	a, b, clk, told, echoed := pair(t)
	for _, m := range groqModels {
		try(t, a, clk, m, fail(500, 0))
	}
	clk.add(10 * time.Second) // open_for: the trial is due
	try(t, a, clk, "groq-llama3-8b", nil)
	if n := len(*told); n != 2 || (*told)[1].State != Closed || (*told)[1].Kind != SharedProvider {
		t.Fatalf("told %+v, want the open then the close", *told)
	}
	for _, p := range b.Providers() {
		if p.Provider == "groq" && p.Breaker != Closed {
			t.Errorf("groq on the other replica after the trial passed: %s", p.Breaker)
		}
	}
	if len(*echoed) != 0 {
		t.Errorf("the other replica told %+v", *echoed)
	}
	// A close from before b's own failures leaves them open.
	old := (*told)[1]
	for _, m := range groqModels {
		try(t, b, clk, m, fail(500, 0))
	}
	if b.ApplyShared(old) {
		t.Error("a close older than the circuit closed it")
	}
}

// TestMergeEstimates: a replica with no samples of its own routes on its
// peers' figures, each weighed by its samples (at most 20) halved every
// ewma_decay of age; its own samples join with the same weight rule; its
// snapshot holds only its own figures.
func TestMergeEstimates(t *testing.T) {
	clk := newClock()
	r := newRouter(t, loadDefault(t), clk)
	const m = "gpt-4o"
	half := r.cfg.EWMADecay
	ms := time.Millisecond
	r.ApplyEstimates("p1", []Estimate{{Model: m, Latency: 100 * ms, TTFT: 100 * ms, TPS: 50, Samples: 10, TTFTSamples: 10}})
	// p2: 30 samples count 20, halved by one half-life of age: 10.
	r.ApplyEstimates("p2", []Estimate{{Model: m, Latency: 300 * ms, TTFT: 400 * ms, TPS: 20, Samples: 30, TTFTSamples: 30, Age: half},
		{Model: "no-such-model", Latency: ms, Samples: 5}})
	b := r.backends[m]
	l := b.live.Load()
	near := func(what string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > want*1e-9 {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	near("latency", l.ewma, float64(200*ms))
	near("ttft", float64(l.ttft), float64(250*ms))
	near("tps", l.tps, 35)
	if at := time.Unix(0, l.ewmaAtNs); !at.Equal(clk.t) {
		t.Errorf("the merged average's time is %v, want the freshest sample's, %v", at, clk.t)
	}
	if es := r.Estimates(); len(es) != 0 {
		t.Errorf("a replica without samples shares %+v", es)
	}

	// One sample of its own, weight 1.
	a, _ := r.Begin(Candidate{Model: mustModel(t, r, m)})
	clk.add(50 * ms)
	a.Done(&providers.Result{}, nil, false)
	own := b.ewma
	// p1's sample is now 50ms old, p2's a half-life and 50ms.
	w1, w2 := 10*math.Exp2(-0.05/half.Seconds()), 20*math.Exp2(-(half.Seconds()+0.05)/half.Seconds())
	near("latency with an own sample", b.live.Load().ewma, (own+w1*float64(100*ms)+w2*float64(300*ms))/(1+w1+w2))
	es := r.Estimates()
	if len(es) != 1 || es[0].Model != m || es[0].Samples != 1 || es[0].Latency != time.Duration(own) || es[0].Age != 0 {
		t.Errorf("own snapshot %+v, want one sample of %v", es, time.Duration(own))
	}

	// Past ten half-lives a peer's figures are dropped.
	clk.add(10*half + time.Second)
	r.ApplyEstimates("p3", []Estimate{{Model: m, Latency: 80 * ms, Samples: 1}})
	if n := len(b.peers.by); n != 1 {
		t.Errorf("%d peers kept after the horizon, want p3 alone", n)
	}
}

// BenchmarkRouteShared: the routing decision with two peers' snapshots
// merged into every backend against the same router without: the merge
// is done when a snapshot arrives, so a decision costs the same.
//
//	go test -run XXX -bench RouteShared -benchtime 200000x ./internal/router
func BenchmarkRouteShared(b *testing.B) {
	for _, merged := range []bool{false, true} {
		name := map[bool]string{false: "own", true: "merged"}[merged]
		b.Run(name, func(b *testing.B) {
			clk := newClock()
			r := bigRouter(b, 200, clk)
			warm(r, clk)
			if merged {
				for i, peer := range []string{"p1", "p2"} {
					es := make([]Estimate, 0, len(r.order))
					for j, bk := range r.order {
						d := time.Duration(100+(i*37+j*11)%400) * time.Millisecond
						es = append(es, Estimate{Model: bk.model.ID, Latency: d, TTFT: d, TPS: float64(20 + j%50), Samples: 5 + j%30, TTFTSamples: 5, Age: time.Second})
					}
					r.ApplyEstimates(peer, es)
				}
			}
			q := chatQuery("auto", "Is the indemnity clause in this contract enforceable under the statute?")
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := r.Route(q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAttemptShared: an attempt's Begin and Done (each publishes the
// backend's live value, merging the peers' figures when there are some)
// without peers and with two.
//
//	go test -run XXX -bench AttemptShared ./internal/router
func BenchmarkAttemptShared(b *testing.B) {
	for _, peers := range []int{0, 2} {
		b.Run(map[int]string{0: "own", 2: "two-peers"}[peers], func(b *testing.B) {
			clk := newClock()
			r := newRouter(b, loadDefault(b), clk)
			m := r.backends["gpt-4o"]
			for i := range peers {
				r.ApplyEstimates(string(rune('a'+i)), []Estimate{{Model: "gpt-4o", Latency: time.Second, TTFT: time.Second, TPS: 30, Samples: 10, TTFTSamples: 10}})
			}
			c := Candidate{Model: m.model, b: m}
			res := &providers.Result{}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				a, ok := r.Begin(c)
				if !ok {
					b.Fatal("not admitted")
				}
				a.Done(res, nil, false)
			}
		})
	}
}

// TestPeersMoveTier: a replica that has served nothing takes the live
// tier the peers' snapshots measured, with the same hysteresis as its
// own traffic (the tier must hold for tier_window), and only once their
// figures rest on three stream samples; a new router generation keeps
// the peers' figures (CarryFrom).
func TestPeersMoveTier(t *testing.T) {
	const m = "llama3-8b" // prior: fast
	slow := Estimate{Model: m, Latency: 30 * time.Second, TTFT: 4 * time.Second, TPS: 5, Samples: 10, TTFTSamples: 10}
	fast := Estimate{Model: m, Latency: 2 * time.Second, TTFT: 200 * time.Millisecond, TPS: 90, Samples: 10, TTFTSamples: 10}
	few := slow
	few.Samples, few.TTFTSamples = 2, 2
	cases := []struct {
		name    string
		peers   map[string]Estimate // each snapshot, sent twice tier_window apart
		once    bool                // sent once: within the window
		tier    catalog.Tier
		source  string
		minTTFT time.Duration // the status's TTFT at least
	}{
		{name: "peers measured slow", peers: map[string]Estimate{"p1": slow}, tier: catalog.Slow, source: SourceLive, minTTFT: 4 * time.Second},
		{name: "two peers, slow in the merge", peers: map[string]Estimate{"p1": slow, "p2": few}, tier: catalog.Slow, source: SourceLive, minTTFT: 4 * time.Second},
		{name: "within the window", peers: map[string]Estimate{"p1": slow}, once: true, tier: catalog.Fast, source: SourcePrior},
		{name: "too few samples", peers: map[string]Estimate{"p1": few}, tier: catalog.Fast, source: SourcePrior},
		{name: "peers measured the prior", peers: map[string]Estimate{"p1": fast}, tier: catalog.Fast, source: SourcePrior},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			cfg := loadDefault(t)
			cfg.Router.TierWindow = time.Minute
			r := newRouter(t, cfg, clk)
			send := func() {
				for from, e := range tc.peers {
					r.ApplyEstimates(from, []Estimate{e})
				}
			}
			send()
			if !tc.once {
				clk.add(cfg.Router.TierWindow)
				send()
			}
			var st BackendStatus
			for _, s := range r.Status() {
				if s.Model == m {
					st = s
				}
			}
			if st.Tier != tc.tier || st.TierSource != tc.source {
				t.Fatalf("status tier %s (%s), want %s (%s)", st.Tier, st.TierSource, tc.tier, tc.source)
			}
			if st.TTFT < tc.minTTFT {
				t.Errorf("status TTFT %v, want the peers' (at least %v)", st.TTFT, tc.minTTFT)
			}
			if got, src, _ := r.Tier(m); got != tc.tier || src != tc.source {
				t.Errorf("Tier = %s (%s), want %s (%s)", got, src, tc.tier, tc.source)
			}
			// Routing reads it: a min_tier fast route excludes it when slow.
			d, err := r.Route(&Query{Model: "auto", Task: catalog.Chat, Explain: true, Route: &Route{MinTier: catalog.Fast}})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range d.Considered {
				if c.Model == m && (c.ExcludedBy != "") != (tc.tier == catalog.Slow) {
					t.Errorf("a min_tier fast route: %s excluded by %q with tier %s", m, c.ExcludedBy, tc.tier)
				}
			}

			// A new generation keeps the peers' figures.
			next := newRouter(t, cfg, clk)
			next.CarryFrom(r)
			if want, got := r.backends[m].live.Load().ttft, next.backends[m].live.Load().ttft; got != want {
				t.Errorf("TTFT after the swap %v, want %v", got, want)
			}
			if next.backends[m].peers == r.backends[m].peers && r.backends[m].peers != nil {
				t.Error("the new generation shares the old's peer set")
			}
		})
	}
}
