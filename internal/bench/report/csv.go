package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tiergate/tiergate/internal/bench"
)

func f(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func statCols(prefix string) []string {
	var out []string
	for _, s := range []string{"mean", "p50", "p90", "p99", "min", "max"} {
		out = append(out, prefix+"_"+s)
	}
	return out
}

func statVals(s *bench.Stats) []string {
	if s == nil {
		return []string{"", "", "", "", "", ""}
	}
	return []string{f(s.Mean), f(s.P50), f(s.P90), f(s.P99), f(s.Min), f(s.Max)}
}

// RunsCSV writes results.csv: one row per model and load step, with the
// same figures as results.json flattened into columns.
func RunsCSV(w io.Writer, r *bench.Results) error {
	cw := csv.NewWriter(w)
	head := []string{"model", "provider", "upstream", "mode", "concurrency", "rate", "arrival", "max_concurrency",
		"started_at", "duration_s", "interrupted", "requests_total", "requests_succeeded", "requests_failed"}
	metrics := []string{"ttft_ms", "itl_ms", "tpot_ms", "e2e_ms", "output_tokens_per_s", "output_tokens"}
	for _, m := range metrics {
		head = append(head, statCols(m)...)
	}
	head = append(head, "throughput_requests_per_s", "throughput_output_tokens_per_s", "token_count_method", "tokenizer",
		"ttft_non_reasoning_ms_p50", "upstream_load_duration_ms_p50", "upstream_prompt_eval_duration_ms_p50",
		"upstream_eval_duration_ms_p50", "upstream_output_tokens_per_s_p50", "errors",
		"send_lag_ms_p50", "send_lag_ms_p99", "read_lag_ms_p50", "read_lag_ms_p99", "client_bound")
	if err := cw.Write(head); err != nil {
		return err
	}
	for _, run := range r.Runs {
		row := []string{run.Model, run.Provider, run.Upstream, run.Mode, itoa0(run.Concurrency), f0(run.Rate), string(run.Arrival),
			itoa0(run.MaxConcurrency), run.StartedAt.Format(time.RFC3339Nano), f(run.DurationS), strconv.FormatBool(run.Interrupted),
			strconv.Itoa(run.Requests.Total), strconv.Itoa(run.Requests.Succeeded), strconv.Itoa(run.Requests.Failed)}
		for _, s := range []*bench.Stats{run.TTFT, run.ITL, run.TPOT, run.E2E, run.OutputTokensPerS, run.OutputTokens} {
			row = append(row, statVals(s)...)
		}
		var errs []string
		for _, e := range run.Errors {
			errs = append(errs, fmt.Sprintf("%s:%d", e.Kind, e.Count))
		}
		row = append(row, f(run.Throughput.RequestsPerS), f(run.Throughput.OutputTokensPerS), run.TokenCountMethod, run.Tokenizer,
			p50csv(run.TTFTNonReasoning), p50csv(run.UpstreamMs["load_duration"]), p50csv(run.UpstreamMs["prompt_eval_duration"]),
			p50csv(run.UpstreamMs["eval_duration"]), p50csv(run.UpstreamOutputTokensPerS), strings.Join(errs, ";"))
		if l := run.ClientLag; l != nil {
			row = append(row, p50csv(l.SendMs), p99csv(l.SendMs), p50csv(l.ReadMs), p99csv(l.ReadMs), strconv.FormatBool(l.ClientBound))
		} else {
			row = append(row, "", "", "", "", "")
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func p99csv(s *bench.Stats) string {
	if s == nil {
		return ""
	}
	return f(s.P99)
}

func p50csv(s *bench.Stats) string {
	if s == nil {
		return ""
	}
	return f(s.P50)
}

func itoa0(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

func f0(v float64) string {
	if v == 0 {
		return ""
	}
	return f(v)
}

func dms(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return f(bench.Round(ms(d)))
}

// RecordsCSV writes requests.csv: one row per measured request (warm-up
// excluded), failures included with their kind and message.
func RecordsCSV(w io.Writer, r *bench.Results) error {
	cw := csv.NewWriter(w)
	upKeys := map[string]bool{}
	for _, run := range r.Runs {
		for i := range run.Records {
			for k := range run.Records[i].Upstream {
				upKeys[k] = true
			}
		}
	}
	var ups []string
	for k := range upKeys {
		ups = append(ups, k)
	}
	sort.Strings(ups)
	head := []string{"model", "provider", "load", "index", "start", "ok", "error_kind", "status", "ttft_ms", "ttft_non_reasoning_ms",
		"e2e_ms", "tpot_ms", "output_tokens_per_s", "output_tokens", "token_count_method", "prompt_tokens", "chunks",
		"itl_ms_mean", "itl_ms_max", "finish_reason"}
	for _, k := range ups {
		head = append(head, "upstream_"+k+"_ms")
	}
	head = append(head, "error_message")
	if err := cw.Write(head); err != nil {
		return err
	}
	for _, run := range r.Runs {
		for i := range run.Records {
			rec := &run.Records[i]
			kind, st, msg := "", "", ""
			if rec.Err != nil {
				kind, msg = rec.Err.Kind, rec.Err.Message
				if rec.Err.Status != 0 {
					st = strconv.Itoa(rec.Err.Status)
				}
			}
			tpot, tokps := "", ""
			if d, ok := rec.TPOT(); ok {
				tpot = dms(d)
			}
			if v, ok := rec.TokensPerSecond(); ok {
				tokps = f(bench.Round(v))
			}
			itlMean, itlMax := "", ""
			if len(rec.ITL) > 0 {
				var sum, mx time.Duration
				for _, g := range rec.ITL {
					sum += g
					mx = max(mx, g)
				}
				itlMean, itlMax = dms(sum/time.Duration(len(rec.ITL))), dms(mx)
			}
			out := ""
			if rec.OK {
				out = strconv.Itoa(rec.OutputTokens)
			}
			row := []string{run.Model, run.Provider, run.Load(), strconv.Itoa(rec.Index), rec.Start.UTC().Format(time.RFC3339Nano),
				strconv.FormatBool(rec.OK), kind, st, dms(rec.TTFT), dms(rec.TTFNRT), dms(rec.E2E), tpot, tokps, out,
				rec.TokenMethod, itoa0(rec.PromptTokens), strconv.Itoa(rec.Chunks), itlMean, itlMax, rec.FinishReason}
			for _, k := range ups {
				if d, ok := rec.Upstream[k]; ok {
					row = append(row, f(bench.Round(ms(d))))
				} else {
					row = append(row, "")
				}
			}
			row = append(row, msg)
			if err := cw.Write(row); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}
