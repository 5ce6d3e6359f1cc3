package report

import (
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"

	"github.com/tiergate/tiergate/internal/bench"
	"github.com/tiergate/tiergate/internal/tiers"
)

type htmlModel struct {
	Model, Provider, Upstream string
	Charts                    []template.HTML
	Runs                      []*bench.RunResult
	ServerSide                bool
}

type htmlPage struct {
	R       *bench.Results
	Started string
	Took    string
	TierMap template.HTML
	Models  []htmlModel
	// Lag is set when a step measured the bench's own lag.
	Lag bool
}

// pageTemplate is report.html.
func pageTemplate() *template.Template {
	return template.Must(template.New("report").Funcs(template.FuncMap{
		"pcts":   pcts,
		"p50":    p50,
		"num":    num,
		"method": method,
		"up": func(run *bench.RunResult, k string) string {
			return p50(run.UpstreamMs[k])
		},
		"p99": p99,
		"ci":  withCI,
		"pct": func(v float64) string { return fmt.Sprintf("%.1f%%", 100*v) },
		"limits": func() string {
			return fmt.Sprintf("the larger of %s ms (send) or %s ms (read) and %.0f%% of the figure the lag bends (the gap between arrivals or the TTFT median; the ITL median)",
				num(ms(bench.MaxSendLagP99)), num(ms(bench.MaxReadLagP99)), 100*bench.LagShare)
		},
	}).Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tiergate bench report</title>
<style>
body { font-family: sans-serif; margin: 1.5em auto; max-width: 1200px; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: .5em 0 1em; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
th { background: #f4f4f4; } td.l, th.l { text-align: left; }
.charts { display: flex; flex-wrap: wrap; gap: 8px; }
.charts svg { border: 1px solid #eee; background: #fff; max-width: 100%; height: auto; }
.tier { font-weight: bold; } .note { color: #555; font-size: 13px; }
.ultra-fast { color: #007a4d; } .fast { color: #0072B2; } .moderate { color: #b36b00; } .slow { color: #b3261e; }
</style>
</head>
<body>
<h1>tiergate bench</h1>
<p class="note">Started {{.Started}}, took {{.Took}}.{{if .R.Interrupted}} <b>The run was interrupted</b>: figures cover the requests that ran.{{end}}
Requests per step: {{with .R.Settings}}{{if .Requests}}{{.Requests}}{{end}}{{if .DurationS}} (at most {{.DurationS}} s){{end}};{{if .RampUpS}} workers started over {{.RampUpS}} s;{{end}} warm-up {{.Warmup}}; timeout {{.TimeoutS}} s;
{{if .PromptsFile}}prompts from {{.PromptsFile}} ({{.Prompts}}){{else}}synthetic prompts of ~{{.PromptTokens}} tokens{{end}}; max tokens {{.MaxTokens}}; seed {{.Seed}}.{{end}}</p>

<h2>Speed tiers</h2>
{{if .R.Tiers}}
<table>
<tr><th class="l">tier</th><th class="l">decision</th><th class="l">model</th><th class="l">provider</th><th>TTFT p50 ms [CI]</th><th>output tok/s p50 [CI]</th><th>requests</th><th class="l">why</th></tr>
{{range .R.Tiers}}<tr><td class="l tier {{.Tier}}">{{.Tier}}</td><td class="l">{{if .Decision}}{{.Decision}}{{if .Provisional}}, provisional{{end}}{{else}}-{{end}}</td><td class="l">{{.Model}}</td><td class="l">{{.Provider}}</td><td>{{ci .TTFTP50Ms .TTFTP50CIMs}}</td><td>{{ci .OutputTokensPerSecP50 .OutputTokensPerSecP50CI}}</td><td>{{.Requests}}</td><td class="l">{{.Reason}}</td></tr>
{{end}}</table>
{{else}}<p>No tier was assigned.</p>{{end}}
{{range .R.Untiered}}<p class="note">No tier for {{.Model}}: {{.Reason}}</p>{{end}}
{{if .R.TierRules}}
<table>
<tr><th class="l">rule</th><th>TTFT p50 at most (ms)</th><th>output tok/s p50 at least</th><th class="l">source</th></tr>
{{range .R.TierRules}}<tr><td class="l tier {{.Tier}}">{{.Tier}}</td><td>{{num .MaxTTFTMs}}</td><td>{{num .MinTokensPerSecond}}</td><td class="l">{{.Source}}</td></tr>
{{end}}<tr><td class="l tier slow">slow</td><td colspan="3" class="l">every backend that meets no rule above</td></tr>
</table>
{{end}}
<div class="charts">{{.TierMap}}</div>

<h2>Summary</h2>
<table>
<tr><th class="l">model</th><th class="l">load</th><th>ok</th><th>failed</th><th>TTFT ms<br>p50 / p90 / p99</th><th>ITL ms<br>p50 / p90 / p99</th><th>TPOT ms<br>p50 / p90 / p99</th><th>E2E ms<br>p50 / p90 / p99</th><th>tok/s per request<br>p50</th><th>output tok/s<br>total</th><th>req/s</th><th class="l">tokens counted by</th></tr>
{{range .R.Runs}}<tr><td class="l">{{.Model}}</td><td class="l">{{.Load}}{{if .Interrupted}} (interrupted){{end}}</td><td>{{.Requests.Succeeded}}</td><td>{{.Requests.Failed}}</td><td>{{pcts .TTFT}}</td><td>{{pcts .ITL}}</td><td>{{pcts .TPOT}}</td><td>{{pcts .E2E}}</td><td>{{p50 .OutputTokensPerS}}</td><td>{{num .Throughput.OutputTokensPerS}}</td><td>{{num .Throughput.RequestsPerS}}</td><td class="l">{{method .}}</td></tr>
{{end}}</table>
{{if .R.Settings.SLO}}
<table>
<tr><th class="l">SLO {{.R.Settings.SLO}}</th><th class="l">load</th><th>met</th><th>good req/s</th><th>good output tok/s</th></tr>
{{range .R.Runs}}{{if .Goodput}}<tr><td class="l">{{.Model}}</td><td class="l">{{.Load}}</td><td>{{pct .Goodput.Attainment}}</td><td>{{num .Goodput.RequestsPerS}}</td><td>{{num .Goodput.TokensPerS}}</td></tr>{{end}}
{{end}}</table>
{{end}}
{{if .Lag}}
<table class="lag">
<tr><th class="l">the bench's own lag, ms</th><th class="l">load</th><th>send p50 / p99</th><th>read p50 / p99</th><th>warmed connections</th><th class="l">client</th></tr>
{{range .R.Runs}}{{if .ClientLag}}<tr><td class="l">{{.Model}}</td><td class="l">{{.Load}}</td>{{with .ClientLag}}<td>{{p50 .SendMs}} / {{p99 .SendMs}}</td><td>{{p50 .ReadMs}} / {{p99 .ReadMs}}</td><td>{{.WarmConnections}}</td><td class="l">{{if .ClientBound}}<b class="slow">client-bound</b>: {{.Why}}{{else}}ok{{end}}</td>{{end}}</tr>{{end}}
{{end}}</table>
<p class="note">Send lag: from when a request was due to when it was sent. Read lag: from the socket read that brought a chunk to its timestamp.
A step whose p99 is over {{limits}} is client-bound: the bench, not the backend, was the bottleneck, and its figures include the bench's own delay.</p>
{{end}}

{{range .Models}}
<h2>{{.Model}} <span class="note">({{.Provider}}{{if .Upstream}}: {{.Upstream}}{{end}})</span></h2>
<div class="charts">{{range .Charts}}{{.}}{{end}}</div>
{{if .ServerSide}}
<table>
<tr><th class="l">server-side, p50</th><th>load_duration ms</th><th>prompt_eval_duration ms</th><th>eval_duration ms</th><th>total_duration ms</th><th>server tok/s</th><th>client tok/s</th></tr>
{{range .Runs}}{{if .UpstreamMs}}<tr><td class="l">{{.Load}}</td><td>{{up . "load_duration"}}</td><td>{{up . "prompt_eval_duration"}}</td><td>{{up . "eval_duration"}}</td><td>{{up . "total_duration"}}</td><td>{{p50 .UpstreamOutputTokensPerS}}</td><td>{{p50 .OutputTokensPerS}}</td></tr>{{end}}
{{end}}</table>
{{end}}
{{range .Runs}}{{if .Errors}}
<table>
<tr><th class="l">failures at {{.Load}}</th><th>count</th><th>status</th><th class="l">first message</th></tr>
{{range .Errors}}<tr><td class="l">{{.Kind}}</td><td>{{.Count}}</td><td>{{if .Status}}{{.Status}}{{end}}</td><td class="l">{{.Message}}</td></tr>
{{end}}</table>
{{end}}{{end}}
{{end}}

<h2>Definitions</h2>
<p class="note"><b>TTFT</b>: from sending the request to the first chunk carrying generated content (text, reasoning or a tool-call piece).
<b>ITL</b>: every gap between content chunks. <b>TPOT</b> = (E2E &minus; TTFT) / (output tokens &minus; 1).
<b>E2E</b>: the whole request. <b>tok/s per request</b> = (output tokens &minus; 1) / (E2E &minus; TTFT).
<b>Output tok/s total</b>: all output tokens of the step over its wall time.
Output tokens come from the server's usage when it reports it, else an offline tokenizer, else one per chunk.
Failed requests are counted by kind and never enter latency figures. Tiers come from the single-stream step (concurrency 1), or the step named by -tier-at; whiskers are the confidence intervals of the medians (95% unless -confidence), dashed lines the tier thresholds.</p>
</body>
</html>
`))
}

// HTML writes report.html.
func HTML(w io.Writer, r *bench.Results) error {
	page := htmlPage{R: r, Started: r.StartedAt.Format(time.RFC1123), Took: r.FinishedAt.Sub(r.StartedAt).Round(100 * time.Millisecond).String(),
		TierMap: tierMap(r)}
	for _, run := range r.Runs {
		page.Lag = page.Lag || run.ClientLag != nil
	}
	for _, g := range groupRuns(r.Runs) {
		m := htmlModel{Model: g[0].Model, Provider: g[0].Provider, Upstream: g[0].Upstream, Runs: g}
		for _, run := range g {
			if run.UpstreamMs != nil {
				m.ServerSide = true
			}
		}
		m.Charts = modelCharts(g)
		page.Models = append(page.Models, m)
	}
	return pageTemplate().Execute(w, page)
}

// groupRuns groups runs by model and provider, in order of appearance.
func groupRuns(runs []*bench.RunResult) [][]*bench.RunResult {
	var out [][]*bench.RunResult
	idx := map[[2]string]int{}
	for _, r := range runs {
		k := [2]string{r.Model, r.Provider}
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], r)
	}
	return out
}

func modelCharts(runs []*bench.RunResult) []template.HTML {
	cats := make([]string, len(runs))
	for i, r := range runs {
		cats[i] = r.Load()
	}
	byLoad := func(name string, get func(*bench.RunResult) (float64, bool)) series {
		s := series{Name: name}
		for i, r := range runs {
			if v, ok := get(r); ok {
				s.Points = append(s.Points, point{X: float64(i), Y: v, Label: cats[i]})
			}
		}
		return s
	}
	// withCI adds each step's confidence interval of the median.
	withCI := func(s series, ci func(*bench.RunResult) *tiers.Interval) series {
		s.Name += " [CI]"
		j := 0
		for i, r := range runs {
			if j < len(s.Points) && s.Points[j].X == float64(i) {
				if iv := ci(r); iv != nil {
					s.Points[j].YCI = &[2]float64{iv.Lo, iv.Hi}
				}
				j++
			}
		}
		return s
	}
	ttftCI := func(r *bench.RunResult) *tiers.Interval { return r.TTFTP50CI }
	tokpsCI := func(r *bench.RunResult) *tiers.Interval { return r.OutputTokensPerSP50CI }
	pct := func(sel func(*bench.RunResult) *bench.Stats, p int) func(*bench.RunResult) (float64, bool) {
		return func(r *bench.RunResult) (float64, bool) {
			s := sel(r)
			if s == nil {
				return 0, false
			}
			switch p {
			case 90:
				return s.P90, true
			case 99:
				return s.P99, true
			}
			return s.P50, true
		}
	}
	ttft := func(r *bench.RunResult) *bench.Stats { return r.TTFT }
	e2e := func(r *bench.RunResult) *bench.Stats { return r.E2E }
	itl := func(r *bench.RunResult) *bench.Stats { return r.ITL }
	tpot := func(r *bench.RunResult) *bench.Stats { return r.TPOT }
	tokps := func(r *bench.RunResult) *bench.Stats { return r.OutputTokensPerS }
	xl := "load"
	charts := []*chart{
		{Title: "Time to first token vs load", XLabel: xl, YLabel: "TTFT (ms)", XCats: cats, YFrom0: true,
			Series: []series{withCI(byLoad("p50", pct(ttft, 50)), ttftCI), byLoad("p90", pct(ttft, 90)), byLoad("p99", pct(ttft, 99))}},
		{Title: "Inter-token latency and TPOT vs load", XLabel: xl, YLabel: "ms", XCats: cats, YFrom0: true,
			Series: []series{byLoad("ITL p50", pct(itl, 50)), byLoad("ITL p99", pct(itl, 99)), byLoad("TPOT p50", pct(tpot, 50))}},
		{Title: "End-to-end latency vs load", XLabel: xl, YLabel: "E2E (ms)", XCats: cats, YFrom0: true,
			Series: []series{byLoad("p50", pct(e2e, 50)), byLoad("p90", pct(e2e, 90)), byLoad("p99", pct(e2e, 99))}},
		{Title: "Throughput vs load", XLabel: xl, YLabel: "output tokens/s", XCats: cats, YFrom0: true,
			Series: []series{
				byLoad("total, all requests", func(r *bench.RunResult) (float64, bool) {
					return r.Throughput.OutputTokensPerS, r.Requests.Succeeded > 0
				}),
				withCI(byLoad("per request p50", pct(tokps, 50)), tokpsCI)}},
	}
	dist := func(title, unit string, get func(*bench.Record) []float64) *chart {
		c := &chart{Title: title, XLabel: unit, YLabel: "% of values at most x", LogX: true}
		for _, r := range runs {
			var v []float64
			for i := range r.Records {
				if r.Records[i].OK {
					v = append(v, get(&r.Records[i])...)
				}
			}
			c.Series = append(c.Series, series{Name: r.Load(), Points: cdf(v, 200)})
		}
		return c
	}
	charts = append(charts,
		dist("TTFT distribution", "TTFT (ms)", func(r *bench.Record) []float64 { return []float64{ms(r.TTFT)} }),
		dist("Inter-token latency distribution", "ITL (ms)", func(r *bench.Record) []float64 {
			out := make([]float64, len(r.ITL))
			for i, g := range r.ITL {
				out[i] = ms(g)
			}
			return out
		}),
		dist("End-to-end latency distribution", "E2E (ms)", func(r *bench.Record) []float64 { return []float64{ms(r.E2E)} }),
	)
	out := make([]template.HTML, len(charts))
	for i, c := range charts {
		out[i] = c.SVG()
	}
	return out
}

// tierColor matches the page's CSS.
func tierColor(tier string) string {
	switch tier {
	case "ultra-fast":
		return "#007a4d"
	case "fast":
		return "#0072B2"
	case "moderate":
		return "#b36b00"
	}
	return "#b3261e"
}

// tierMap plots each tiered model's medians, with their confidence
// intervals as whiskers, against the rule bounds; then the same
// intervals one figure at a time against that figure's thresholds
// (ciCharts).
func tierMap(r *bench.Results) template.HTML {
	if len(r.Tiers) == 0 {
		return ""
	}
	c := &chart{Title: "Speed tiers: medians [CI] against the rules", XLabel: "TTFT p50 (ms, log scale)",
		YLabel: "output tokens/s p50 (log)", LogX: true, LogY: true, Scatter: true}
	for _, rule := range r.TierRules {
		col := tierColor(string(rule.Tier))
		c.VRefs = append(c.VRefs, refLine{At: rule.MaxTTFTMs, Label: fmt.Sprintf("%s ≤%s ms", rule.Tier, num(rule.MaxTTFTMs)), Color: col})
		if rule.MinTokensPerSecond > 0 {
			c.HRefs = append(c.HRefs, refLine{At: rule.MinTokensPerSecond, Label: fmt.Sprintf("%s ≥%s tok/s", rule.Tier, num(rule.MinTokensPerSecond)), Color: col})
		}
	}
	byTier := map[string]int{}
	for _, e := range r.Tiers {
		name := string(e.Tier)
		if e.Decision == tiers.Undecided {
			name += " (undecided)"
		}
		i, ok := byTier[name]
		if !ok {
			i = len(c.Series)
			byTier[name] = i
			c.Series = append(c.Series, series{Name: name, Color: tierColor(string(e.Tier))})
		}
		p := point{X: e.TTFTP50Ms, Y: e.OutputTokensPerSecP50, Label: e.Model, Hollow: e.Decision == tiers.Undecided}
		if iv := e.TTFTP50CIMs; iv != nil {
			p.XCI = &[2]float64{iv.Lo, iv.Hi}
		}
		if iv := e.OutputTokensPerSecP50CI; iv != nil {
			p.YCI = &[2]float64{iv.Lo, iv.Hi}
		}
		c.Series[i].Points = append(c.Series[i].Points, p)
	}
	out := string(c.SVG())
	for _, c := range ciCharts(r) {
		out += string(c.SVG())
	}
	return template.HTML(out)
}

// ciCharts draw, for each backend, the median that decides its tier with
// its confidence interval as a whisker, against the thresholds of the
// rules (a line per tier, in the tier's colour): TTFT, then tokens/s. A
// whisker that crosses a line is an undecided tier (drawn hollow).
func ciCharts(r *bench.Results) []*chart {
	var cats []string
	for _, e := range r.Tiers {
		cats = append(cats, truncate(e.Model, 22))
	}
	ttft := &chart{Title: "TTFT p50 [CI] against the tier thresholds", XLabel: "backend", YLabel: "TTFT p50 (ms)", XCats: cats, Scatter: true, YFrom0: true}
	tokps := &chart{Title: "Output tok/s p50 [CI] against the tier thresholds", XLabel: "backend", YLabel: "tokens/s per request, p50", XCats: cats, Scatter: true, YFrom0: true}
	for _, rule := range r.TierRules {
		col := tierColor(string(rule.Tier))
		ttft.HRefs = append(ttft.HRefs, refLine{At: rule.MaxTTFTMs, Label: fmt.Sprintf("%s ≤%s ms", rule.Tier, num(rule.MaxTTFTMs)), Color: col})
		if rule.MinTokensPerSecond > 0 {
			tokps.HRefs = append(tokps.HRefs, refLine{At: rule.MinTokensPerSecond, Label: fmt.Sprintf("%s ≥%s tok/s", rule.Tier, num(rule.MinTokensPerSecond)), Color: col})
		}
	}
	for i, e := range r.Tiers {
		name := e.Model
		if e.Provider != "" && !strings.HasPrefix(e.Model, e.Provider+"/") {
			name += " (" + e.Provider + ")"
		}
		name += ": " + string(e.Tier)
		if e.Decision == tiers.Undecided {
			name += ", undecided"
		}
		a := point{X: float64(i), Y: e.TTFTP50Ms, Label: "", Hollow: e.Decision == tiers.Undecided}
		if iv := e.TTFTP50CIMs; iv != nil {
			a.YCI = &[2]float64{iv.Lo, iv.Hi}
		}
		b := point{X: float64(i), Y: e.OutputTokensPerSecP50, Hollow: a.Hollow}
		if iv := e.OutputTokensPerSecP50CI; iv != nil {
			b.YCI = &[2]float64{iv.Lo, iv.Hi}
		}
		// A backend takes its tier's colour, as the thresholds do.
		col := tierColor(string(e.Tier))
		ttft.Series = append(ttft.Series, series{Name: name, Points: []point{a}, Color: col})
		tokps.Series = append(tokps.Series, series{Name: name, Points: []point{b}, Color: col})
	}
	// Thresholds far above the medians would squash them: a log scale
	// when the chart spans more than two decades.
	for _, c := range []*chart{ttft, tokps} {
		var v []float64
		for _, s := range c.Series {
			for _, p := range s.Points {
				v = append(v, p.Y)
			}
		}
		for _, h := range c.HRefs {
			v = append(v, h.At)
		}
		if lo, hi := minOf(v), maxOf(v); lo > 0 && hi/lo > 100 {
			c.LogY, c.YFrom0 = true, false
			c.YLabel += ", log"
		}
	}
	return []*chart{ttft, tokps}
}
