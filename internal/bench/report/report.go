// Package report writes a benchmark's results: the summary table for a
// terminal, results.json, results.csv (one row per model and step),
// requests.csv (one row per request) and report.html, a self-contained
// page (inline CSS and SVG charts, no scripts, fonts or links to fetch)
// that opens offline. It imports bench and tiers only; it must not import
// providers, the gateway or the router, and only cmd/bench imports it.
package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tiergate/tiergate/internal/bench"
	"github.com/tiergate/tiergate/internal/tiers"
)

// File names written by WriteDir.
const (
	ResultsJSON = "results.json"
	ResultsCSV  = "results.csv"
	RequestsCSV = "requests.csv"
	ReportHTML  = "report.html"
	TiersJSON   = "tiers.json"
)

// WriteDir writes results.json, results.csv, requests.csv, report.html
// and tiers.json (this run's tiers) into dir, creating it, and returns the
// paths written.
func WriteDir(dir string, r *bench.Results) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var paths []string
	write := func(name string, fn func(io.Writer) error) error {
		var buf bytes.Buffer
		if err := fn(&buf); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			return err
		}
		paths = append(paths, p)
		return nil
	}
	for _, f := range []struct {
		name string
		fn   func(io.Writer) error
	}{
		{ResultsJSON, func(w io.Writer) error { return JSON(w, r) }},
		{ResultsCSV, func(w io.Writer) error { return RunsCSV(w, r) }},
		{RequestsCSV, func(w io.Writer) error { return RecordsCSV(w, r) }},
		{ReportHTML, func(w io.Writer) error { return HTML(w, r) }},
	} {
		if err := write(f.name, f.fn); err != nil {
			return paths, err
		}
	}
	p := filepath.Join(dir, TiersJSON)
	if err := tiers.Write(p, r.TiersFile()); err != nil {
		return paths, err
	}
	return append(paths, p), nil
}

// Names are the files WriteDir writes.
var Names = []string{ResultsJSON, ResultsCSV, RequestsCSV, ReportHTML, TiersJSON}

// CheckDir makes sure WriteDir can write into dir, before a run whose
// results would otherwise be lost: it creates dir, writes and removes a
// probe file there, and checks that none of the names is taken by a
// directory or a file it may not replace.
func CheckDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	probe, err := os.CreateTemp(dir, ".bench-probe-*")
	if err != nil {
		return fmt.Errorf("%s is not writable: %w", dir, err)
	}
	probe.Close()
	os.Remove(probe.Name())
	for _, name := range Names {
		p := filepath.Join(dir, name)
		fi, err := os.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case err != nil:
			return err
		case fi.IsDir():
			return fmt.Errorf("%s is a directory: bench writes a file by that name", p)
		case !fi.Mode().IsRegular():
			return fmt.Errorf("%s is not a regular file: bench writes a file by that name", p)
		}
		fh, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			return fmt.Errorf("%s cannot be replaced: %w", p, err)
		}
		fh.Close()
	}
	return nil
}

// JSON writes results.json.
func JSON(w io.Writer, r *bench.Results) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// num formats a figure with about three significant digits.
func num(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v):
		return "-"
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// stat formats s with f, or "-" when there is no s.
func stat(s *bench.Stats, f func(*bench.Stats) string) string {
	if s == nil {
		return "-"
	}
	return f(s)
}

// pcts formats "p50 / p90 / p99" or "-".
func pcts(s *bench.Stats) string {
	return stat(s, func(s *bench.Stats) string { return num(s.P50) + " / " + num(s.P90) + " / " + num(s.P99) })
}

func p50(s *bench.Stats) string { return stat(s, func(s *bench.Stats) string { return num(s.P50) }) }

func p99(s *bench.Stats) string { return stat(s, func(s *bench.Stats) string { return num(s.P99) }) }

// Table writes the summary for an 80-column terminal: per model and
// step the TTFT p50 and p99, the ITL and E2E medians and the rates; then
// each tier with its intervals and its reason, wrapped; the failures
// with their messages on lines of their own. WideTable has every
// figure.
func Table(w io.Writer, r *bench.Results) error {
	var rows []string
	for _, run := range r.Runs {
		load := clip(run.Load(), narrowLoad)
		if run.Interrupted {
			load += "*"
		}
		if clientBound(run) {
			load += "!"
		}
		rows = append(rows, fmt.Sprintf("%s\t%s\t%d/%d\t%s\t%s\t%s\t%s\t%s\t%s", clip(run.Model, narrowModel), load,
			run.Requests.Succeeded, run.Requests.Failed, p50(run.TTFT), p99(run.TTFT), p50(run.ITL), p50(run.E2E),
			p50(run.OutputTokensPerS), rate(run, run.Throughput.OutputTokensPerS)))
	}
	if err := table(w, "MODEL\tLOAD\tOK/FAIL\tTTFT\tp99\tITL\tE2E\tTOK/S\tOUT/S", rows); err != nil {
		return err
	}
	fmt.Fprintln(w, "(p50 in ms, p99 of TTFT; TOK/S per request; OUT/S the step's; -wide: all)")
	if err := lagTable(w, r, true); err != nil {
		return err
	}
	goodput(w, r)
	if up := upstreamRows(r); len(up) > 0 {
		fmt.Fprintln(w)
		for i, row := range up {
			cells := strings.Split(row, "\t")
			cells[0], cells[1] = clip(cells[0], narrowModel), clip(cells[1], narrowLoad)
			up[i] = strings.Join(cells, "\t")
		}
		if err := table(w, "SERVER p50 ms\tLOAD\tLOAD\tPROMPT\tEVAL\tSRV TOK/S\tTOK/S", up); err != nil {
			return err
		}
	}
	fmt.Fprintln(w)
	if len(r.Tiers) > 0 {
		var rows []string
		for _, e := range r.Tiers {
			rows = append(rows, fmt.Sprintf("%s\t%s\t%s\t%s\t%s", e.Tier, decision(e), clip(e.Model, narrowModel),
				withCI(e.TTFTP50Ms, e.TTFTP50CIMs), withCI(e.OutputTokensPerSecP50, e.OutputTokensPerSecP50CI)))
		}
		if err := table(w, "TIER\tDECISION\tMODEL\tTTFT p50 [CI]\tTOK/S p50 [CI]", rows); err != nil {
			return err
		}
		for _, e := range r.Tiers {
			wrap(w, e.Model+": "+e.Reason, 80, "  ")
		}
	}
	for _, u := range r.Untiered {
		wrap(w, fmt.Sprintf("no tier for %s: %s", u.Model, u.Reason), 80, "  ")
	}
	if failures := failuresOf(r); len(failures) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "FAILURES")
		for _, f := range failures {
			fmt.Fprintf(w, "%s %s: %d x %s", clip(f.model, narrowModel), f.load, f.e.Count, f.e.Kind)
			if f.e.Status != 0 {
				fmt.Fprintf(w, " (status %d)", f.e.Status)
			}
			fmt.Fprintln(w)
			fmt.Fprintln(w, "  "+clip(oneLine(f.e.Message), 78))
		}
	}
	if r.Interrupted {
		fmt.Fprintln(w, "\nThe run was interrupted (* marks its steps): figures cover the requests that ran.")
	}
	return nil
}

// goodput writes each step's SLO attainment and goodput, and the rate
// searches' answers, when the run had an SLO.
func goodput(w io.Writer, r *bench.Results) {
	if r.Settings.SLO == "" {
		return
	}
	var rows []string
	for _, run := range r.Runs {
		if g := run.Goodput; g != nil {
			rows = append(rows, fmt.Sprintf("%s\t%s\t%.1f%%\t%s\t%s", clip(run.Model, narrowModel), clip(run.Load(), narrowLoad),
				100*g.Attainment, num(g.RequestsPerS), num(g.TokensPerS)))
		}
	}
	fmt.Fprintf(w, "\nSLO %s\n", r.Settings.SLO)
	table(w, "MODEL\tLOAD\tMET\tGOOD REQ/S\tGOOD TOK/S", rows)
	for _, m := range r.MaxRates {
		switch {
		case m.Rate == 0:
			wrap(w, fmt.Sprintf("%s: no rate tried met the SLO for %.0f%% of requests (the lowest tried, %s/s, did not)", m.Model, 100*m.Goal, num(m.Failed)), 80, "  ")
		case m.Failed == 0:
			wrap(w, fmt.Sprintf("%s: keeps the SLO for %.0f%% of requests up to %s/s, the highest rate tried", m.Model, 100*m.Goal, num(m.Rate)), 80, "  ")
		default:
			wrap(w, fmt.Sprintf("%s: highest rate keeping the SLO for %.0f%% of requests: %s/s (%s/s did not, %d steps)", m.Model, 100*m.Goal, num(m.Rate), num(m.Failed), len(m.Tried)), 80, "  ")
		}
	}
}

// narrowModel and narrowLoad are the widest model name and load label
// in the narrow table.
const (
	narrowModel = 18
	narrowLoad  = 10
)

// clip shortens s to n runes, marking the cut with "~".
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "~"
}

// wrap writes s in lines of at most width runes, breaking at spaces,
// continuation lines indented.
func wrap(w io.Writer, s string, width int, indent string) {
	line := ""
	for _, word := range strings.Fields(s) {
		switch {
		case line == "":
			line = word
		case len([]rune(line))+1+len([]rune(word)) <= width:
			line += " " + word
		default:
			fmt.Fprintln(w, line)
			line = indent + word
		}
	}
	if line != "" {
		fmt.Fprintln(w, line)
	}
}

// WideTable writes the full summary table: per model and step, p50 / p90
// / p99 of TTFT, ITL, TPOT and E2E, then the tiers, the models without
// one, and the failures by kind.
func WideTable(w io.Writer, r *bench.Results) error {
	var rows []string
	for _, run := range r.Runs {
		load := run.Load()
		if run.Interrupted {
			load += " (interrupted)"
		}
		rows = append(rows, fmt.Sprintf("%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s", run.Model, load,
			run.Requests.Succeeded, run.Requests.Failed, pcts(run.TTFT), pcts(run.ITL), pcts(run.TPOT), pcts(run.E2E),
			p50(run.OutputTokensPerS), rate(run, run.Throughput.OutputTokensPerS), rate(run, run.Throughput.RequestsPerS), method(run)))
	}
	if err := table(w, "MODEL\tLOAD\tOK\tFAIL\tTTFT ms p50/p90/p99\tITL ms p50/p90/p99\tTPOT ms p50/p90/p99\tE2E ms p50/p90/p99\tTOK/S/REQ p50\tOUT TOK/S\tREQ/S\tTOKENS BY", rows); err != nil {
		return err
	}
	if err := lagTable(w, r, false); err != nil {
		return err
	}
	goodput(w, r)
	if up := upstreamRows(r); len(up) > 0 {
		fmt.Fprintln(w)
		if err := table(w, "SERVER-SIDE (p50)\tLOAD\tload ms\tprompt eval ms\teval ms\tserver tok/s\tclient tok/s", up); err != nil {
			return err
		}
	}
	fmt.Fprintln(w)
	if len(r.Tiers) > 0 {
		var rows []string
		for _, e := range r.Tiers {
			rows = append(rows, fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s\t%s", e.Tier, decision(e), e.Model, e.Provider,
				withCI(e.TTFTP50Ms, e.TTFTP50CIMs), withCI(e.OutputTokensPerSecP50, e.OutputTokensPerSecP50CI), e.Reason))
		}
		if err := table(w, "TIER\tDECISION\tMODEL\tPROVIDER\tTTFT p50 ms [CI]\tTOK/S p50 [CI]\tWHY", rows); err != nil {
			return err
		}
	}
	for _, u := range r.Untiered {
		fmt.Fprintf(w, "no tier for %s: %s\n", u.Model, u.Reason)
	}
	if failures := failuresOf(r); len(failures) > 0 {
		rows := make([]string, len(failures))
		for i, f := range failures {
			rows[i] = fmt.Sprintf("%s\t%s\t%s\t%d\t%s\t%s", f.model, f.load, f.e.Kind, f.e.Count, status(f.e.Status), oneLine(f.e.Message))
		}
		fmt.Fprintln(w)
		if err := table(w, "FAILURES\tLOAD\tKIND\tCOUNT\tSTATUS\tFIRST MESSAGE", rows); err != nil {
			return err
		}
	}
	if r.Interrupted {
		fmt.Fprintln(w, "\nThe run was interrupted: figures cover the requests that ran.")
	}
	return nil
}

// clientBound reports whether the bench itself was the bottleneck of
// the step.
func clientBound(run *bench.RunResult) bool { return run.ClientLag != nil && run.ClientLag.ClientBound }

// lagTable writes the bench's own lag per step (send: due to sent; read:
// socket read to timestamp), and a warning for each step where the
// client was the bottleneck, with the limit it went over.
func lagTable(w io.Writer, r *bench.Results, narrow bool) error {
	var rows, bound []string
	for _, run := range r.Runs {
		l := run.ClientLag
		if l == nil {
			continue
		}
		model, load := run.Model, run.Load()
		if narrow {
			model, load = clip(model, narrowModel), clip(load, narrowLoad)
		}
		mark := "ok"
		if l.ClientBound {
			mark = "BOUND"
			bound = append(bound, fmt.Sprintf("! %s %s: the bench itself was the bottleneck (%s): its figures include the client's own delay", run.Model, run.Load(), l.Why))
		}
		rows = append(rows, fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s", model, load, p50(l.SendMs), p99(l.SendMs), p50(l.ReadMs), p99(l.ReadMs), l.WarmConnections, mark))
	}
	if len(rows) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	if err := table(w, "BENCH LAG ms\tLOAD\tSEND\tp99\tREAD\tp99\tCONN\tCLIENT", rows); err != nil {
		return err
	}
	fmt.Fprintf(w, "(p50, p99: the bench's own delay, SEND due to sent, READ socket read to\ntimestamp; BOUND: a p99 over %s/%s ms or %.0f%% of what it bends; CONN: warmed)\n",
		num(ms(bench.MaxSendLagP99)), num(ms(bench.MaxReadLagP99)), 100*bench.LagShare)
	for _, b := range bound {
		wrap(w, b, 80, "  ")
	}
	return nil
}

// table writes header and rows (tab-separated cells) aligned in columns.
func table(w io.Writer, header string, rows []string) error {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, row := range rows {
		fmt.Fprintln(tw, row)
	}
	return tw.Flush()
}

// failure is one kind of error of a warm-up or a step.
type failure struct {
	model, load string
	e           bench.ErrorCount
}

// failuresOf lists the errors of the warm-ups, then of the steps.
func failuresOf(r *bench.Results) []failure {
	var failures []failure
	for _, wu := range r.Warmups {
		for _, e := range wu.Errors {
			failures = append(failures, failure{wu.Model, "warm-up", e})
		}
	}
	for _, run := range r.Runs {
		for _, e := range run.Errors {
			failures = append(failures, failure{run.Model, run.Load(), e})
		}
	}
	return failures
}

// decision says how sure a tier is.
func decision(e tiers.Entry) string {
	switch {
	case e.Decision == "":
		return "-"
	case e.Provisional:
		return "provisional" // undecided, with no previous tier to keep
	}
	return e.Decision
}

// withCI formats "52.0 [50.1-55.0]".
func withCI(v float64, iv *tiers.Interval) string {
	if iv == nil {
		return num(v)
	}
	return fmt.Sprintf("%s [%s-%s]", num(v), num(iv.Lo), num(iv.Hi))
}

// rate formats a throughput figure, "-" for a step without a success.
func rate(run *bench.RunResult, v float64) string {
	if run.Requests.Succeeded == 0 {
		return "-"
	}
	return num(v)
}

func status(s int) string {
	if s == 0 {
		return "-"
	}
	return fmt.Sprint(s)
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 160 {
		s = s[:157] + "..."
	}
	return s
}

func method(run *bench.RunResult) string {
	m := run.TokenCountMethod
	switch {
	case m == "":
		return "-"
	case m == bench.MethodTokenizer && run.Tokenizer != "":
		return m + " (" + run.Tokenizer + ")"
	case m == "mixed":
		var parts []string
		for _, k := range []string{bench.MethodUsage, bench.MethodTokenizer, bench.MethodChunks} {
			if n := run.TokenCountMethods[k]; n > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", k, n))
			}
		}
		return "mixed: " + strings.Join(parts, ", ")
	}
	return m
}

// upstreamRows lists server-reported timings (Ollama) beside the
// client's figures.
func upstreamRows(r *bench.Results) []string {
	var rows []string
	for _, run := range r.Runs {
		if run.UpstreamMs == nil {
			continue
		}
		get := func(k string) string { return p50(run.UpstreamMs[k]) }
		rows = append(rows, strings.Join([]string{run.Model, run.Load(), get("load_duration"), get("prompt_eval_duration"),
			get("eval_duration"), p50(run.UpstreamOutputTokensPerS), p50(run.OutputTokensPerS)}, "\t"))
	}
	return rows
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
