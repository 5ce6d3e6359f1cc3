// Package tiers holds the speed-tiers file that `bench` writes and the
// gateway and router read, and the rule that assigns a tier from measured
// figures.
//
// A tiers file is a small JSON document:
//
//	{
//	  "version": 1,
//	  "generated_at": "2025-06-01T12:00:00Z",
//	  "tiers": [
//	    {"model": "llama3-8b", "provider": "ollama", "upstream": "llama3:8b",
//	     "tier": "fast", "ttft_p50_ms": 210.5, "output_tokens_per_s_p50": 64.2,
//	     "requests": 10, "measured_at": "2025-06-01T11:58:40Z",
//	     "rule":   {"tier": "fast", "max_ttft_ms": 1000, "min_output_tokens_per_s": 50, "source": "..."},
//	     "missed": {"tier": "ultra-fast", "max_ttft_ms": 400, "min_output_tokens_per_s": 250, "source": "..."},
//	     "reason": "..."}
//	  ]
//	}
//
// "model" is the catalog id the bench measured; "rule" is the rule the
// figures met (absent for a "slow" backend that met none) and "missed" the
// next faster rule they did not meet (absent for the fastest tier).
// Entries from a bench with confidence intervals also carry
// "ttft_p50_ci_ms" and "output_tokens_per_s_p50_ci" ({"lo", "hi"}),
// "confidence", "decision" ("decided" or "undecided"), "point_tier",
// "candidates", "provisional" and "margins" (judge.go); files without
// them still load. An undecided entry merged into a file keeps the tier
// the file had (Settle), so a tier never flips on a change inside the
// interval.
//
// The gateway calls Load at start, then Watch to pick up a new file when
// bench rewrites it; File.Lookup finds a catalog model's entry. Write
// replaces a file atomically, so a watcher never reads half a file.
//
// It imports config and catalog only; it must not import providers, the
// router, the gateway or the bench.
package tiers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/tiergate/tiergate/internal/catalog"
	"github.com/tiergate/tiergate/internal/config"
)

// Version is the file format version Write produces and Parse accepts.
const Version = 1

// maxFileSize bounds a tiers file (a few hundred bytes per model).
const maxFileSize = 16 << 20

// Rule is a tier rule as written in the file: config.TierRule with its
// duration in milliseconds.
type Rule struct {
	Tier               catalog.Tier `json:"tier"`
	MaxTTFTMs          float64      `json:"max_ttft_ms"`
	MinTokensPerSecond float64      `json:"min_output_tokens_per_s"`
	Source             string       `json:"source,omitempty"`
	// At is the rule's own load (config's `at`), when it has one.
	At *At `json:"at,omitempty"`
}

// RuleOf converts a configured rule.
func RuleOf(r config.TierRule) Rule {
	return Rule{Tier: r.Tier, MaxTTFTMs: ms(r.MaxTTFT), MinTokensPerSecond: r.MinTokensPerSecond, Source: r.Source, At: r.At}
}

// Entry is one measured backend.
type Entry struct {
	// Model is the catalog id (or, for `bench -target`, the model name
	// sent to that server).
	Model string `json:"model"`
	// Provider is the configured provider name ("target" for -target).
	Provider string `json:"provider"`
	// Upstream is the model name the provider knows.
	Upstream string       `json:"upstream,omitempty"`
	Tier     catalog.Tier `json:"tier"`
	// TTFTP50Ms and OutputTokensPerSecP50 are the single-stream medians
	// that decided the tier.
	TTFTP50Ms             float64 `json:"ttft_p50_ms"`
	OutputTokensPerSecP50 float64 `json:"output_tokens_per_s_p50"`
	// Requests is how many successful requests the medians come from.
	Requests   int       `json:"requests"`
	MeasuredAt time.Time `json:"measured_at"`
	// Rule is the rule met; nil when none was (tier slow).
	Rule *Rule `json:"rule,omitempty"`
	// Missed is the next faster rule, not met; nil for the fastest tier.
	Missed *Rule `json:"missed,omitempty"`
	// Reason says in words why the backend got its tier.
	Reason string `json:"reason,omitempty"`

	// The fields below come with confidence intervals (bench since file
	// format 1 with intervals); a file without them still loads, its
	// entries counting as decided.

	// TTFTP50CIMs and OutputTokensPerSecP50CI are the confidence
	// intervals of the two medians, at Confidence (e.g. 0.95).
	TTFTP50CIMs             *Interval `json:"ttft_p50_ci_ms,omitempty"`
	OutputTokensPerSecP50CI *Interval `json:"output_tokens_per_s_p50_ci,omitempty"`
	Confidence              float64   `json:"confidence,omitempty"`
	// Decision is Decided or Undecided ("" in older files: decided).
	Decision string `json:"decision,omitempty"`
	// PointTier is the tier the medians alone earn; Tier differs from it
	// when an undecided measurement kept the previous tier.
	PointTier catalog.Tier `json:"point_tier,omitempty"`
	// Candidates are the tiers the interval allows, fastest first (set
	// when undecided).
	Candidates []catalog.Tier `json:"candidates,omitempty"`
	// Provisional is set on an undecided entry with no previous tier to
	// keep: Tier is then the point estimate's.
	Provisional bool `json:"provisional,omitempty"`
	// Margins are the medians' distances to every rule's thresholds.
	Margins []Margin `json:"margins,omitempty"`
	// At is the load the tier was measured at when it is not the single
	// stream (bench -tier-at): the medians are that step's.
	At *At `json:"at,omitempty"`
}

// File is a whole tiers file.
type File struct {
	Version     int       `json:"version"`
	GeneratedAt time.Time `json:"generated_at"`
	// Generator names what wrote the file, e.g. "tiergate bench".
	Generator string  `json:"generator,omitempty"`
	Tiers     []Entry `json:"tiers"`
}

// Decision is the outcome of Decide.
type Decision struct {
	Tier catalog.Tier
	// Met is the rule the figures met, nil when none (slow).
	Met *config.TierRule
	// Missed is the next faster rule the figures did not meet, nil for
	// the fastest configured tier.
	Missed *config.TierRule
	Reason string
}

// Assign returns the tier earned by single-stream medians ttftP50 and
// tokPerSecP50: the first rule (rules go fastest first) whose bounds both
// hold, TTFT <= MaxTTFT and tokens/s >= MinTokensPerSecond; "slow" with a
// nil rule when none holds.
func Assign(rules []config.TierRule, ttftP50 time.Duration, tokPerSecP50 float64) (catalog.Tier, *config.TierRule) {
	d := Decide(rules, ttftP50, tokPerSecP50)
	return d.Tier, d.Met
}

// Decide is Assign with the rule missed and a reason in words.
func Decide(rules []config.TierRule, ttftP50 time.Duration, tokPerSecP50 float64) Decision {
	return decide(rules, func(*config.TierRule) figure { return figure{ttft: ttftP50, tps: tokPerSecP50} })
}

// figure is what a rule is judged on: the medians at its load (or a
// corner of their interval), the load's name when the reasons print it,
// and, when not empty, why there are no figures at that load.
type figure struct {
	ttft    time.Duration
	tps     float64
	load    string
	missing string
}

// decide is Decide with each rule judged on its own figures (fig): the
// first rule whose bounds both hold at its load wins; a rule whose load
// has no figures is not met, and the next rule is tried.
func decide(rules []config.TierRule, fig func(*config.TierRule) figure) Decision {
	var missed *config.TierRule
	var why string
	for i := range rules {
		r := &rules[i]
		f := fig(r)
		at := ""
		if f.load != "" {
			at = " at " + f.load
		}
		if f.missing != "" {
			missed = r
			why = fmt.Sprintf("%s needs TTFT <= %s and >= %g tok/s%s, and %s", r.Tier, fmtMs(r.MaxTTFT), r.MinTokensPerSecond, at, f.missing)
			continue
		}
		ttftOK := f.ttft <= r.MaxTTFT
		rateOK := f.tps >= r.MinTokensPerSecond
		if ttftOK && rateOK {
			reason := fmt.Sprintf("TTFT p50 %s <= %s and %s tok/s >= %g%s meet the %s rule", fmtMsVs(f.ttft, r.MaxTTFT), fmtMs(r.MaxTTFT), exact(f.tps, r.MinTokensPerSecond, 1), r.MinTokensPerSecond, at, r.Tier)
			if missed != nil {
				reason += "; " + why
			}
			return Decision{Tier: r.Tier, Met: r, Missed: missed, Reason: reason}
		}
		missed = r
		switch {
		case !ttftOK && !rateOK:
			why = fmt.Sprintf("%s needs TTFT <= %s and >= %g tok/s%s (measured %s, %s tok/s%s)", r.Tier, fmtMs(r.MaxTTFT), r.MinTokensPerSecond, at, fmtMsVs(f.ttft, r.MaxTTFT), exact(f.tps, r.MinTokensPerSecond, 1), at)
		case !ttftOK:
			why = fmt.Sprintf("%s needs TTFT <= %s%s (measured %s%s)", r.Tier, fmtMs(r.MaxTTFT), at, fmtMsVs(f.ttft, r.MaxTTFT), at)
		default:
			why = fmt.Sprintf("%s needs >= %g tok/s%s (measured %s%s)", r.Tier, r.MinTokensPerSecond, at, exact(f.tps, r.MinTokensPerSecond, 1), at)
		}
	}
	reason := "no rule met"
	if missed != nil {
		reason = "no rule met: " + why
	}
	return Decision{Tier: catalog.Slow, Missed: missed, Reason: reason}
}

// NewEntry builds an entry from the figures and the rules that decide it.
func NewEntry(model, provider, upstream string, rules []config.TierRule, ttftP50 time.Duration, tokPerSecP50 float64, requests int, measuredAt time.Time) Entry {
	d := Decide(rules, ttftP50, tokPerSecP50)
	e := Entry{Model: model, Provider: provider, Upstream: upstream, Tier: d.Tier,
		TTFTP50Ms: round3(ms(ttftP50)), OutputTokensPerSecP50: round3(tokPerSecP50),
		Requests: requests, MeasuredAt: measuredAt.UTC(), Reason: d.Reason}
	if d.Met != nil {
		r := RuleOf(*d.Met)
		e.Rule = &r
	}
	if d.Missed != nil {
		r := RuleOf(*d.Missed)
		e.Missed = &r
	}
	return e
}

// Lookup returns the entry for a catalog model: by id first, then by
// provider and upstream name.
func (f *File) Lookup(m *catalog.Model) (Entry, bool) {
	if f == nil || m == nil {
		return Entry{}, false
	}
	for _, e := range f.Tiers {
		if e.Model == m.ID {
			return e, true
		}
	}
	for _, e := range f.Tiers {
		if e.Provider == m.Provider && e.Upstream != "" && e.Upstream == m.Upstream {
			return e, true
		}
	}
	return Entry{}, false
}

// Merge returns base with the entries of update added, an entry of
// update replacing base's entry for the same model and provider, settled
// against it (Settle: an undecided measurement keeps the previous tier).
// Entries are sorted by model then provider.
func Merge(base, update *File) *File {
	out := &File{Version: Version}
	if update != nil {
		out.GeneratedAt, out.Generator = update.GeneratedAt, update.Generator
	}
	seen := map[[2]string]int{}
	add := func(f *File) {
		if f == nil {
			return
		}
		for _, e := range f.Tiers {
			k := [2]string{e.Model, e.Provider}
			if i, ok := seen[k]; ok {
				prev := out.Tiers[i]
				out.Tiers[i] = Settle(e, &prev)
				continue
			}
			seen[k] = len(out.Tiers)
			out.Tiers = append(out.Tiers, e)
		}
	}
	add(base)
	add(update)
	sort.SliceStable(out.Tiers, func(i, j int) bool {
		a, b := out.Tiers[i], out.Tiers[j]
		if a.Model != b.Model {
			return a.Model < b.Model
		}
		return a.Provider < b.Provider
	})
	return out
}

// Parse decodes and validates a tiers file. Unknown keys are ignored, so
// that a newer bench's file still loads.
func Parse(data []byte) (*File, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("the tiers file is empty: run bench to write it")
	}
	var f File
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("the tiers file is not valid JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("the tiers file has data after its JSON object")
	}
	if f.Version == 0 {
		return nil, errors.New(`the tiers file has no "version": it was not written by bench`)
	}
	if f.Version > Version {
		return nil, fmt.Errorf("the tiers file is version %d; this build reads version %d: upgrade tiergate", f.Version, Version)
	}
	seen := map[[2]string]bool{}
	for i, e := range f.Tiers {
		where := fmt.Sprintf("tiers[%d]", i)
		if e.Model == "" {
			return nil, fmt.Errorf("%s: model is empty", where)
		}
		if e.Tier.Rank() < 0 {
			return nil, fmt.Errorf("%s (%s): tier %q is not one of ultra-fast, fast, moderate, slow", where, e.Model, e.Tier)
		}
		if bad(e.TTFTP50Ms) || bad(e.OutputTokensPerSecP50) || e.Requests < 0 {
			return nil, fmt.Errorf("%s (%s): measured figures must be finite and not negative", where, e.Model)
		}
		for _, iv := range []*Interval{e.TTFTP50CIMs, e.OutputTokensPerSecP50CI} {
			if iv != nil && (bad(iv.Lo) || bad(iv.Hi) || iv.Lo > iv.Hi) {
				return nil, fmt.Errorf("%s (%s): an interval must be finite, not negative, lo <= hi", where, e.Model)
			}
		}
		if e.Decision != "" && e.Decision != Decided && e.Decision != Undecided {
			return nil, fmt.Errorf("%s (%s): decision %q is not %s or %s", where, e.Model, e.Decision, Decided, Undecided)
		}
		for _, r := range []*Rule{e.Rule, e.Missed} {
			if r != nil && (r.Tier.Rank() < 0 || bad(r.MaxTTFTMs) || bad(r.MinTokensPerSecond)) {
				return nil, fmt.Errorf("%s (%s): a rule has an unknown tier or a negative bound", where, e.Model)
			}
		}
		if e.At != nil {
			if err := e.At.Validate(); err != nil {
				return nil, fmt.Errorf("%s (%s): %w", where, e.Model, err)
			}
		}
		k := [2]string{e.Model, e.Provider}
		if seen[k] {
			return nil, fmt.Errorf("%s: model %q of provider %q appears twice", where, e.Model, e.Provider)
		}
		seen[k] = true
	}
	return &f, nil
}

func bad(v float64) bool { return v < 0 || math.IsNaN(v) || math.IsInf(v, 0) }

// Read reads a tiers file from r.
func Read(r io.Reader) (*File, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxFileSize {
		return nil, fmt.Errorf("the tiers file is larger than %d bytes", maxFileSize)
	}
	return Parse(b)
}

// Load reads the tiers file at path. A missing file gives an error for
// which errors.Is(err, fs.ErrNotExist) holds.
func Load(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	f, err := Read(fh)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// Marshal encodes f as indented JSON with a trailing newline, filling in
// Version when it is zero.
func Marshal(f *File) ([]byte, error) {
	c := *f
	if c.Version == 0 {
		c.Version = Version
	}
	if c.Tiers == nil {
		c.Tiers = []Entry{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(&c); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Write replaces the file at path with f atomically: it writes a
// temporary file in the same directory and renames it over path, so a
// reader (the gateway's Watch) sees the old file or the new one, never
// a part.
func Write(path string, f *File) error {
	b, err := Marshal(f)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op once renamed
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// fmtMs prints a duration in milliseconds below 10 s, seconds above.
func fmtMs(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2fms", ms(d))
	}
	return fmt.Sprintf("%.0fms", ms(d))
}
