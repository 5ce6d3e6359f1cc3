package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// SLO bounds what a request may take to count as served well: time to
// first token, the mean gap between its tokens (its TPOT) and its whole
// time. A zero bound is not checked. A failed request never meets it.
type SLO struct {
	TTFT time.Duration `json:"ttft,omitempty"`
	ITL  time.Duration `json:"itl,omitempty"`
	E2E  time.Duration `json:"e2e,omitempty"`
}

// ParseSLO reads "ttft=800ms,itl=60ms,e2e=20s" (any subset, any order).
func ParseSLO(s string) (*SLO, error) {
	var o SLO
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if !ok || err != nil || d <= 0 {
			return nil, fmt.Errorf("slo %q: write name=duration, such as ttft=800ms", part)
		}
		switch strings.TrimSpace(k) {
		case "ttft":
			o.TTFT = d
		case "itl", "tpot":
			o.ITL = d
		case "e2e":
			o.E2E = d
		default:
			return nil, fmt.Errorf("slo %q: the bounds are ttft, itl (or tpot) and e2e", part)
		}
	}
	if o == (SLO{}) {
		return nil, errors.New("slo: give at least one bound, such as ttft=800ms,itl=60ms,e2e=20s")
	}
	return &o, nil
}

// String writes the SLO as ParseSLO reads it.
func (o SLO) String() string {
	var parts []string
	for _, b := range []struct {
		name string
		d    time.Duration
	}{{"ttft", o.TTFT}, {"itl", o.ITL}, {"e2e", o.E2E}} {
		if b.d > 0 {
			parts = append(parts, b.name+"="+b.d.String())
		}
	}
	return strings.Join(parts, ",")
}

// Met reports whether r was served within the SLO.
func (o SLO) Met(r *Record) bool {
	if !r.OK || (o.TTFT > 0 && r.TTFT > o.TTFT) || (o.E2E > 0 && r.E2E > o.E2E) {
		return false
	}
	if o.ITL > 0 && r.Chunks > 1 && (r.E2E-r.TTFT)/time.Duration(r.Chunks-1) > o.ITL {
		return false
	}
	return true
}

// Goodput is how a step did against the SLO.
type Goodput struct {
	// Attainment is the share of all the step's requests (failed ones
	// included) that met the SLO.
	Attainment float64 `json:"attainment"`
	Met        int     `json:"met"`
	// RequestsPerS and TokensPerS count only requests that met the SLO,
	// over the step's wall time.
	RequestsPerS float64 `json:"requests_per_s"`
	TokensPerS   float64 `json:"output_tokens_per_s"`
}

// goodput scores recs, which took wall, against o.
func (o SLO) goodput(recs []Record, wall time.Duration) *Goodput {
	g := &Goodput{}
	tokens := 0
	for i := range recs {
		if o.Met(&recs[i]) {
			g.Met++
			tokens += recs[i].OutputTokens
		}
	}
	if len(recs) > 0 {
		g.Attainment = round(float64(g.Met) / float64(len(recs)))
	}
	if s := wall.Seconds(); s > 0 {
		g.RequestsPerS, g.TokensPerS = round(float64(g.Met)/s), round(float64(tokens)/s)
	}
	return g
}

// MaxRateSearch asks for the highest open-loop rate at which a target
// still meets the SLO for Goal of its requests.
type MaxRateSearch struct {
	// Goal is the attainment to keep (0: 0.9).
	Goal float64
	// Start is the first rate tried, requests/s (0: 1).
	Start float64
	// Precision stops the search once the highest passing and the
	// lowest failing rates are this close, as a fraction (0: 0.05).
	Precision float64
	// Limit is the highest rate tried (0: 10,000/s).
	Limit float64
	// Arrival of the search's steps (default constant).
	Arrival Arrival
}

// MaxRate is a search's answer for one target.
type MaxRate struct {
	Model    string `json:"model"`
	Provider string `json:"provider"`
	// Rate is the highest rate tried that met the goal, 0 when none did;
	// Failed the lowest that did not, 0 when none failed up to the limit.
	Rate   float64 `json:"rate"`
	Failed float64 `json:"failed_rate,omitempty"`
	Goal   float64 `json:"goal"`
	// Tried lists each rate with its attainment, in order.
	Tried []RateTry `json:"tried"`
}

// RateTry is one step of a search.
type RateTry struct {
	Rate       float64 `json:"rate"`
	Attainment float64 `json:"attainment"`
}

func (m *MaxRateSearch) defaults() {
	if m.Goal <= 0 {
		m.Goal = 0.9
	}
	if m.Start <= 0 {
		m.Start = 1
	}
	if m.Precision <= 0 {
		m.Precision = 0.05
	}
	if m.Limit <= 0 {
		m.Limit = 10000
	}
	if m.Arrival == "" {
		m.Arrival = Constant
	}
}

// findMaxRate searches t's highest rate under the SLO: the rate doubles
// until a step misses the goal, then the interval between the last pass
// and the first miss is halved (geometrically) until it is within the
// precision. Each step is an ordinary open-loop step (Requests and
// Duration bound it), summarised into runs as it goes.
func (e *engine) findMaxRate(ctx context.Context, t *Target, runs *[]*RunResult) MaxRate {
	m := *e.o.FindMaxRate
	m.defaults()
	out := MaxRate{Model: t.Model, Provider: t.Provider, Goal: m.Goal}
	try := func(rate float64) bool {
		rate = math.Round(rate*1000) / 1000
		s := Step{Rate: rate, Arrival: m.Arrival}
		live := &Live{started: time.Now()}
		ph := Phase{Model: t.Model, Provider: t.Provider, Step: s, Total: e.o.Requests, Duration: e.o.Duration, N: len(out.Tried) + 1}
		if e.o.Progress != nil {
			e.o.Progress.Begin(ph, live)
		}
		run := e.summarize(t, s, []segment{e.step(ctx, t, s, 1, live)})
		if e.o.Progress != nil {
			e.o.Progress.End(ph, run)
		}
		*runs = append(*runs, run)
		a := 0.0
		if run.Goodput != nil {
			a = run.Goodput.Attainment
		}
		out.Tried = append(out.Tried, RateTry{Rate: rate, Attainment: a})
		return a >= m.Goal && !run.Interrupted
	}
	lo, hi := 0.0, 0.0
	for r := m.Start; r <= m.Limit && ctx.Err() == nil; r *= 2 {
		if !try(r) {
			hi = r
			break
		}
		lo = r
	}
	for hi > 0 && lo > 0 && hi/lo > 1+m.Precision && ctx.Err() == nil {
		mid := math.Sqrt(lo * hi)
		if try(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	out.Rate, out.Failed = math.Round(lo*1000)/1000, math.Round(hi*1000)/1000
	return out
}
