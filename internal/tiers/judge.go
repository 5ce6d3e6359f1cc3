package tiers

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tiergate/tiergate/internal/catalog"
	"github.com/tiergate/tiergate/internal/config"
)

// Decision values of an entry. An entry without one (a file written
// before intervals existed) counts as decided.
const (
	// Decided: the whole confidence interval earns one tier.
	Decided = "decided"
	// Undecided: the interval straddles a threshold, so the measurement
	// cannot tell two tiers apart. Merge keeps the previous tier; with no
	// previous entry the point estimate's tier is used, marked
	// provisional.
	Undecided = "undecided"
)

// Interval is a confidence interval.
type Interval struct {
	Lo float64 `json:"lo"`
	Hi float64 `json:"hi"`
}

// Estimate is a measured median with its confidence interval: the
// figures that decide a tier.
type Estimate struct {
	TTFT        time.Duration // TTFT p50
	TTFTLo      time.Duration // its interval
	TTFTHi      time.Duration
	TokPerSec   float64 // output tokens/s p50
	TokPerSecLo float64 // its interval
	TokPerSecHi float64
	Confidence  float64 // e.g. 0.95
}

// Margin is the distance of a measured median to one threshold of one
// rule: positive when the median meets it.
type Margin struct {
	Tier catalog.Tier `json:"tier"`
	// Bound is "max_ttft_ms" or "min_output_tokens_per_s".
	Bound     string  `json:"bound"`
	Threshold float64 `json:"threshold"`
	Measured  float64 `json:"measured"`
	// Margin is in the bound's unit, Percent relative to the threshold.
	Margin  float64 `json:"margin"`
	Percent float64 `json:"percent"`
	// Interval says whether the whole interval is on the median's side
	// of the threshold ("clear") or straddles it ("straddles").
	Interval string `json:"interval"`
	// At is the rule's load when a rule has its own (config's `at`).
	At string `json:"at,omitempty"`
}

// Judgement is the outcome of Judge.
type Judgement struct {
	// Decision is the point estimate's decision (Decide).
	Decision
	// Best and Worst are the tiers at the interval's best corner (lowest
	// TTFT, highest tokens/s) and worst corner; the tier is decided when
	// they are the same. Tiers are monotone in both figures, so every
	// point of the interval earns a tier between them.
	Best, Worst catalog.Tier
	Decided     bool
	Margins     []Margin
	// Straddled lists the thresholds inside the interval, in words.
	Straddled []string
}

// Judge decides a tier from estimates with intervals.
func Judge(rules []config.TierRule, est Estimate) Judgement {
	return JudgeAt(rules, At{}, func(At) Measured { return Measured{Est: est} })
}

// Measured is a backend's figures at one load, as bench measured them.
type Measured struct {
	Est        Estimate
	Requests   int
	MeasuredAt time.Time
	// Missing, when not empty, says why there are no figures at this
	// load ("no c=8 step was run (steps: c=1, c=4)"): a rule that must
	// hold at it is not met, and the next rule is tried.
	Missing string
}

// RuleAt is the load r must hold at: its own at, else def (bench's
// -tier-at).
func RuleAt(r config.TierRule, def At) At {
	if r.At != nil {
		return *r.At
	}
	return def
}

// OwnLoads reports whether a rule has its own load; the reasons then
// name each rule's load.
func OwnLoads(rules []config.TierRule) bool {
	for _, r := range rules {
		if r.At != nil {
			return true
		}
	}
	return false
}

// JudgeAt is Judge with each rule judged at its own load (RuleAt with
// def) on the figures at(load) returns: its point estimate, and the
// corners of its interval for the decision. Each rule's bounds are
// monotone in its own step's figures, so every step at its best corner
// gives the best tier and every step at its worst the worst.
func JudgeAt(rules []config.TierRule, def At, at func(At) Measured) Judgement {
	named := OwnLoads(rules)
	load := func(a At) string {
		if named {
			return a.String()
		}
		return ""
	}
	fig := func(corner func(Estimate) (time.Duration, float64)) func(*config.TierRule) figure {
		return func(r *config.TierRule) figure {
			a := RuleAt(*r, def)
			m := at(a)
			f := figure{load: load(a), missing: m.Missing}
			f.ttft, f.tps = corner(m.Est)
			return f
		}
	}
	j := Judgement{Decision: decide(rules, fig(func(e Estimate) (time.Duration, float64) { return e.TTFT, e.TokPerSec }))}
	j.Best = decide(rules, fig(func(e Estimate) (time.Duration, float64) { return e.TTFTLo, e.TokPerSecHi })).Tier
	j.Worst = decide(rules, fig(func(e Estimate) (time.Duration, float64) { return e.TTFTHi, e.TokPerSecLo })).Tier
	j.Decided = j.Best == j.Worst
	for _, r := range rules {
		a := RuleAt(r, def)
		ms0 := at(a)
		if ms0.Missing != "" {
			continue
		}
		est, where := ms0.Est, ""
		if l := load(a); l != "" {
			where = " at " + l
		}
		lim, got := ms(r.MaxTTFT), ms(est.TTFT)
		m := Margin{Tier: r.Tier, Bound: "max_ttft_ms", Threshold: lim, Measured: round3(got), Margin: round3(lim - got), Interval: "clear", At: load(a)}
		if lim > 0 {
			m.Percent = round3(100 * (lim - got) / lim)
		}
		if est.TTFTLo <= r.MaxTTFT && est.TTFTHi > r.MaxTTFT {
			m.Interval = "straddles"
			j.Straddled = append(j.Straddled, fmt.Sprintf("%s's TTFT <= %s%s", r.Tier, fmtMs(r.MaxTTFT), where))
		}
		j.Margins = append(j.Margins, m)
		lo := r.MinTokensPerSecond
		m = Margin{Tier: r.Tier, Bound: "min_output_tokens_per_s", Threshold: lo, Measured: round3(est.TokPerSec), Margin: round3(est.TokPerSec - lo), Interval: "clear", At: load(a)}
		if lo > 0 {
			m.Percent = round3(100 * (est.TokPerSec - lo) / lo)
		}
		if est.TokPerSecLo < lo && est.TokPerSecHi >= lo {
			m.Interval = "straddles"
			j.Straddled = append(j.Straddled, fmt.Sprintf("%s's >= %g tok/s%s", r.Tier, lo, where))
		}
		j.Margins = append(j.Margins, m)
	}
	return j
}

// NewJudgedEntry builds an entry from estimates with intervals: its tier
// is the point estimate's, its decision "decided" when the whole
// interval earns that tier and "undecided" (and provisional) otherwise.
// Merge settles an undecided entry against the previous file.
func NewJudgedEntry(model, provider, upstream string, rules []config.TierRule, est Estimate, requests int, measuredAt time.Time) Entry {
	return NewJudgedEntryAt(model, provider, upstream, rules, At{}, func(At) Measured {
		return Measured{Est: est, Requests: requests, MeasuredAt: measuredAt}
	})
}

// EntryLoad is the load whose figures an entry records: the met rule's,
// else def's when measured, else the first measured rule's load. ok is
// false when no load a rule needs was measured.
func EntryLoad(rules []config.TierRule, def At, met *config.TierRule, at func(At) Measured) (a At, ok bool) {
	if met != nil {
		return RuleAt(*met, def), true
	}
	if at(def).Missing == "" {
		return def, true
	}
	for _, r := range rules {
		if a := RuleAt(r, def); at(a).Missing == "" {
			return a, true
		}
	}
	return def, false
}

// NewJudgedEntryAt is NewJudgedEntry with each rule judged at its own
// load (JudgeAt). The entry records the figures of EntryLoad, and its At
// is that load when not the single stream.
func NewJudgedEntryAt(model, provider, upstream string, rules []config.TierRule, def At, at func(At) Measured) Entry {
	j := JudgeAt(rules, def, at)
	where, _ := EntryLoad(rules, def, j.Met, at)
	m := at(where)
	est := m.Est
	e := Entry{Model: model, Provider: provider, Upstream: upstream, Tier: j.Tier,
		TTFTP50Ms: round3(ms(est.TTFT)), OutputTokensPerSecP50: round3(est.TokPerSec),
		Requests: m.Requests, MeasuredAt: m.MeasuredAt.UTC(), Reason: j.Reason}
	if j.Met != nil {
		r := RuleOf(*j.Met)
		e.Rule = &r
	}
	if j.Missed != nil {
		r := RuleOf(*j.Missed)
		e.Missed = &r
	}
	if !where.Single() {
		e.At = &where
	}
	e.TTFTP50CIMs = &Interval{Lo: round3(ms(est.TTFTLo)), Hi: round3(ms(est.TTFTHi))}
	e.OutputTokensPerSecP50CI = &Interval{Lo: round3(est.TokPerSecLo), Hi: round3(est.TokPerSecHi)}
	e.Confidence = est.Confidence
	e.Margins = j.Margins
	e.PointTier = j.Tier
	ci := fmt.Sprintf("%g%% CI TTFT %s-%s, %s-%s tok/s", 100*est.Confidence, fmtMs(est.TTFTLo), fmtMs(est.TTFTHi),
		fmtRate(est.TokPerSecLo), fmtRate(est.TokPerSecHi))
	if OwnLoads(rules) {
		ci = fmt.Sprintf("%g%% CI", 100*est.Confidence)
		for _, l := range loadsOf(rules, def, at) {
			f := at(l).Est
			ci += fmt.Sprintf(" at %s TTFT %s-%s, %s-%s tok/s;", l, fmtMs(f.TTFTLo), fmtMs(f.TTFTHi), fmtRate(f.TokPerSecLo), fmtRate(f.TokPerSecHi))
		}
		ci = strings.TrimSuffix(ci, ";")
	}
	if j.Decided {
		e.Decision = Decided
		e.Reason += "; " + ci + ": all " + string(j.Tier)
		return e
	}
	e.Decision = Undecided
	e.Provisional = true
	e.Candidates = tierRange(j.Best, j.Worst)
	e.Reason += fmt.Sprintf("; undecided: the %s straddles %s (%s to %s); no previous tier, so the point estimate's %s is provisional",
		ci, strings.Join(j.Straddled, " and "), j.Worst, j.Best, j.Tier)
	return e
}

// loadsOf lists the measured loads the rules use, each once, in rule
// order.
func loadsOf(rules []config.TierRule, def At, at func(At) Measured) []At {
	var out []At
	for _, r := range rules {
		a := RuleAt(r, def)
		if at(a).Missing == "" && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// tierRange lists the tiers from best to worst, fastest first.
func tierRange(best, worst catalog.Tier) []catalog.Tier {
	var out []catalog.Tier
	for _, t := range []catalog.Tier{catalog.UltraFast, catalog.Fast, catalog.Moderate, catalog.Slow} {
		if t.Rank() >= 0 && within(t, best, worst) {
			out = append(out, t)
		}
	}
	return out
}

// within reports whether t lies between best and worst (inclusive).
func within(t, best, worst catalog.Tier) bool {
	r, b, w := t.Rank(), best.Rank(), worst.Rank()
	if b > w {
		b, w = w, b
	}
	return r >= b && r <= w
}

// Settle resolves an undecided entry e against prev, the entry of the
// same backend in the file being merged into (nil when there is none):
// the tier stays prev's when prev's tier is one the interval allows,
// else it becomes the allowed tier nearest prev's. A decided entry, or
// one with no previous entry, is returned as it is (an undecided one
// stays provisional), and so is one already settled (not provisional):
// settling twice changes nothing. A merge therefore never flips a tier
// on a change inside the interval.
func Settle(e Entry, prev *Entry) Entry {
	if e.Decision != Undecided || !e.Provisional || prev == nil {
		return e
	}
	cands := e.Candidates
	if len(cands) == 0 {
		cands = []catalog.Tier{e.Tier}
	}
	keep := cands[0]
	best := math.MaxInt
	for _, c := range cands {
		d := c.Rank() - prev.Tier.Rank()
		if d < 0 {
			d = -d
		}
		if d < best {
			best, keep = d, c
		}
	}
	e.Provisional = false
	if i := strings.Index(e.Reason, "; no previous tier"); i >= 0 {
		e.Reason = e.Reason[:i]
	}
	when := ""
	if !prev.MeasuredAt.IsZero() {
		when = " (measured " + prev.MeasuredAt.UTC().Format(time.RFC3339) + ")"
	}
	if keep == prev.Tier {
		e.Reason += fmt.Sprintf("; kept the previous tier %s%s", prev.Tier, when)
	} else {
		e.Reason += fmt.Sprintf("; the previous tier %s%s is outside the interval: %s, the nearest tier inside it", prev.Tier, when, keep)
	}
	e.Tier = keep
	return e
}

// fmtRate prints a tokens/s figure with one decimal.
func fmtRate(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// exact prints v against the threshold lim with enough digits that the
// printed figure compares with lim as v does: 49.98 against 50 prints
// "49.98", never "50.0". It uses at least min decimals.
func exact(v, lim float64, min int) string {
	for prec := min; prec <= 9; prec++ {
		s := strconv.FormatFloat(v, 'f', prec, 64)
		p, _ := strconv.ParseFloat(s, 64)
		if (p < lim) == (v < lim) && (p > lim) == (v > lim) {
			return s
		}
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// fmtMsVs prints a duration like fmtMs, with the digits needed to
// compare it with lim truthfully.
func fmtMsVs(d, lim time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return exact(d.Seconds(), lim.Seconds(), 2) + "s"
	case d < 10*time.Millisecond:
		return exact(ms(d), ms(lim), 2) + "ms"
	}
	return exact(ms(d), ms(lim), 0) + "ms"
}
