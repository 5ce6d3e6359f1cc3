package report

import (
	"fmt"
	"html/template"
	"math"
	"sort"
	"strings"
)

// color returns the i-th colour of a colour-blind-safe set (Okabe-Ito).
func color(i int) string {
	p := [...]string{"#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"}
	return p[i%len(p)]
}

type point struct {
	X, Y  float64
	Label string
	// YCI and XCI, when set, are a confidence interval drawn as a
	// whisker through the point (vertical and horizontal).
	YCI, XCI *[2]float64
	// Hollow draws the marker unfilled (an undecided tier).
	Hollow bool
}

type series struct {
	Name   string
	Points []point
	// Color overrides the palette.
	Color string
}

// Series are told apart by more than colour, so that overlapping lines
// stay visible and the chart reads in grey: the i-th series has the
// i-th dash pattern and marker shape, and lines and markers are a little
// transparent.
var (
	dashes  = [...]string{"", "7 4", "2 3", "9 3 2 3"}
	markers = [...]string{"circle", "square", "triangle", "diamond", "cross"}
)

type refLine struct {
	At    float64
	Label string
	// Color of the line (grey when empty): a tier threshold takes its
	// tier's colour.
	Color string
}

// chart is a line or scatter chart rendered to inline SVG.
type chart struct {
	Title, XLabel, YLabel string
	Series                []series
	// XCats, when set, makes x categorical: point X is an index into it.
	XCats      []string
	LogX, LogY bool
	Scatter    bool
	VRefs      []refLine
	HRefs      []refLine
	// YFrom0 starts a linear y axis at zero.
	YFrom0 bool
}

const (
	cw, ch                 = 560, 300
	padL, padR, padT, padB = 64, 16, 30, 64
	plotW, plotH           = cw - padL - padR, ch - padT - padB
	fontAttr               = `font-family="sans-serif" font-size="11"`
)

type axis struct {
	lo, hi float64
	log    bool
	ticks  []float64
}

func (a axis) pos(v float64, length float64) float64 {
	if a.log {
		v, lo, hi := math.Log10(math.Max(v, a.lo)), math.Log10(a.lo), math.Log10(a.hi)
		return (v - lo) / (hi - lo) * length
	}
	return (v - a.lo) / (a.hi - a.lo) * length
}

func niceStep(span float64, n int) float64 {
	raw := span / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			return m * mag
		}
	}
	return 10 * mag
}

func linearAxis(lo, hi float64, from0 bool) axis {
	if from0 && lo > 0 {
		lo = 0
	}
	if hi <= lo {
		if hi == 0 {
			hi = 1
		} else {
			lo, hi = lo-math.Abs(lo)*0.1, hi+math.Abs(hi)*0.1
		}
	}
	step := niceStep(hi-lo, 5)
	lo = math.Floor(lo/step) * step
	hi = math.Ceil(hi/step) * step
	a := axis{lo: lo, hi: hi}
	for i := 0; ; i++ {
		v := lo + float64(i)*step
		if v > hi+step/2 {
			break
		}
		a.ticks = append(a.ticks, math.Round(v/step)*step)
	}
	return a
}

func logAxis(lo, hi float64) axis {
	if lo <= 0 {
		lo = math.Min(hi, 1) / 10
		if lo <= 0 {
			lo = 0.1
		}
	}
	lo = math.Pow(10, math.Floor(math.Log10(lo)))
	hi = math.Pow(10, math.Ceil(math.Log10(math.Max(hi, lo*10))))
	a := axis{lo: lo, hi: hi, log: true}
	decades := math.Log10(hi / lo)
	for d := lo; d <= hi*1.0001; d *= 10 {
		a.ticks = append(a.ticks, d)
		if decades <= 2 && d*10 <= hi*1.0001 {
			a.ticks = append(a.ticks, 2*d, 5*d)
		}
	}
	sort.Float64s(a.ticks)
	return a
}

func tickLabel(v float64) string {
	a := math.Abs(v)
	switch {
	case a == 0:
		return "0"
	case a >= 10000:
		return fmt.Sprintf("%.0fk", v/1000)
	case a >= 100 || a == math.Trunc(a):
		return fmt.Sprintf("%.0f", v)
	case a >= 1:
		return fmt.Sprintf("%.1f", v)
	default:
		return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", v), "0"), ".")
	}
}

func esc(s string) string { return template.HTMLEscapeString(s) }

// SVG renders the chart.
func (c *chart) SVG() template.HTML {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s">`, cw, ch, cw, ch, esc(c.Title))
	fmt.Fprintf(&b, `<text x="%d" y="18" %s font-size="13" font-weight="bold">%s</text>`, padL, fontAttr, esc(c.Title))
	var xs, ys []float64
	for _, s := range c.Series {
		for _, p := range s.Points {
			if !finite(p.X) || !finite(p.Y) || (c.LogX && p.X <= 0) || (c.LogY && p.Y <= 0) {
				continue
			}
			xs, ys = append(xs, p.X), append(ys, p.Y)
			if p.YCI != nil && (!c.LogY || p.YCI[0] > 0) {
				ys = append(ys, p.YCI[0], p.YCI[1])
			}
			if p.XCI != nil && (!c.LogX || p.XCI[0] > 0) {
				xs = append(xs, p.XCI[0], p.XCI[1])
			}
		}
	}
	for _, r := range c.VRefs {
		xs = append(xs, r.At)
	}
	for _, r := range c.HRefs {
		ys = append(ys, r.At)
	}
	if len(xs) == 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%d" %s fill="#666">no data</text></svg>`, cw/2-20, ch/2, fontAttr)
		return template.HTML(b.String())
	}
	var xa, ya axis
	if c.XCats != nil {
		xa = axis{lo: -0.5, hi: float64(len(c.XCats)) - 0.5}
	} else if c.LogX {
		xa = logAxis(minOf(xs), maxOf(xs))
	} else {
		xa = linearAxis(minOf(xs), maxOf(xs), false)
	}
	if c.LogY {
		ya = logAxis(minOf(ys), maxOf(ys))
	} else {
		ya = linearAxis(minOf(ys), maxOf(ys), c.YFrom0)
	}
	px := func(v float64) float64 { return padL + xa.pos(v, plotW) }
	py := func(v float64) float64 { return padT + plotH - ya.pos(v, plotH) }
	// grid and axes
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#999"/>`, padL, padT, plotW, plotH)
	for _, t := range ya.ticks {
		y := py(t)
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#e5e5e5"/>`, padL, padL+plotW, y, y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" %s text-anchor="end">%s</text>`, padL-4, y+4, fontAttr, tickLabel(t))
	}
	if c.XCats != nil {
		for i, l := range c.XCats {
			x := px(float64(i))
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" %s text-anchor="middle">%s</text>`, x, padT+plotH+14, fontAttr, esc(l))
		}
	} else {
		for _, t := range xa.ticks {
			x := px(t)
			fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#e5e5e5"/>`, x, x, padT, padT+plotH)
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" %s text-anchor="middle">%s</text>`, x, padT+plotH+14, fontAttr, tickLabel(t))
		}
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" %s text-anchor="middle">%s</text>`, padL+plotW/2, padT+plotH+30, fontAttr, esc(c.XLabel))
	fmt.Fprintf(&b, `<text x="14" y="%d" %s text-anchor="middle" transform="rotate(-90 14 %d)">%s</text>`, padT+plotH/2, fontAttr, padT+plotH/2, esc(c.YLabel))
	for i, r := range c.VRefs {
		x := px(r.At)
		col := refColor(r)
		fmt.Fprintf(&b, `<line class="threshold" data-label="%s" x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="%s" stroke-width="1.5" stroke-dasharray="4 3"/>`, esc(r.Label), x, x, padT, padT+plotH, col)
		// A label near the right edge goes left of its line.
		tx, anchor := x+3, "start"
		if x > padL+plotW-100 {
			tx, anchor = x-3, "end"
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" %s fill="%s" text-anchor="%s">%s</text>`, tx, padT+10+12*(i%3), fontAttr, col, anchor, esc(r.Label))
	}
	for _, r := range c.HRefs {
		y := py(r.At)
		col := refColor(r)
		fmt.Fprintf(&b, `<line class="threshold" data-label="%s" x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="%s" stroke-width="1.5" stroke-dasharray="4 3"/>`, esc(r.Label), padL, padL+plotW, y, y, col)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" %s fill="%s" text-anchor="end">%s</text>`, padL+plotW-3, y-3, fontAttr, col, esc(r.Label))
	}
	// series: lines first, then whiskers and markers over every line
	ok := func(p point) bool {
		return finite(p.X) && finite(p.Y) && (!c.LogX || p.X > 0) && (!c.LogY || p.Y > 0)
	}
	colorOf := func(i int, s series) string {
		if s.Color != "" {
			return s.Color
		}
		return color(i)
	}
	for i, s := range c.Series {
		var pts []string
		for _, p := range s.Points {
			if ok(p) {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(p.X), py(p.Y)))
			}
		}
		if !c.Scatter && len(pts) > 1 {
			dash := ""
			if d := dashes[i%len(dashes)]; d != "" {
				dash = ` stroke-dasharray="` + d + `"`
			}
			fmt.Fprintf(&b, `<polyline class="series" data-series="%s" points="%s" fill="none" stroke="%s" stroke-width="2" stroke-opacity="0.8"%s/>`,
				esc(s.Name), strings.Join(pts, " "), colorOf(i, s), dash)
		}
	}
	for i, s := range c.Series {
		col := colorOf(i, s)
		var valid []point
		for _, p := range s.Points {
			if ok(p) {
				valid = append(valid, p)
			}
		}
		for j, p := range valid {
			x, y := px(p.X), py(p.Y)
			if p.YCI != nil && (!c.LogY || p.YCI[0] > 0) {
				lo, hi := py(p.YCI[0]), py(p.YCI[1])
				fmt.Fprintf(&b, `<g class="ci" data-series="%s" stroke="%s" stroke-width="1.5"><line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/><line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/><line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/><title>%s</title></g>`,
					esc(s.Name), col, x, x, lo, hi, x-5, x+5, lo, lo, x-5, x+5, hi, hi, esc(fmt.Sprintf("%s: interval %s-%s", s.Name, tickLabel(p.YCI[0]), tickLabel(p.YCI[1]))))
			}
			if p.XCI != nil && (!c.LogX || p.XCI[0] > 0) {
				lo, hi := px(p.XCI[0]), px(p.XCI[1])
				fmt.Fprintf(&b, `<g class="ci" data-series="%s" stroke="%s" stroke-width="1.5"><line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/><line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/><line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/><title>%s</title></g>`,
					esc(s.Name), col, lo, hi, y, y, lo, lo, y-5, y+5, hi, hi, y-5, y+5, esc(fmt.Sprintf("%s: interval %s-%s", s.Name, tickLabel(p.XCI[0]), tickLabel(p.XCI[1]))))
			}
			if !c.Scatter && !markerAt(j, len(valid), i, len(c.Series)) {
				continue
			}
			r := 3.5
			if c.Scatter {
				r = 5
			}
			b.WriteString(marker(markers[i%len(markers)], x, y, r, col, p.Hollow, pointTitle(s.Name, p)))
			if c.Scatter && p.Label != "" {
				fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" %s>%s</text>`, x+7, y+4, fontAttr, esc(p.Label))
			}
		}
		// legend, below the axis label: the line's dash and marker
		lx := padL + (i%3)*(plotW/3)
		ly := padT + plotH + 46 + (i/3)*14
		dash := ""
		if d := dashes[i%len(dashes)]; d != "" && !c.Scatter {
			dash = ` stroke-dasharray="` + d + `"`
		}
		fmt.Fprintf(&b, `<g class="legend" data-series="%s">`, esc(s.Name))
		if !c.Scatter {
			fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="2"%s/>`, lx, lx+22, ly-4, ly-4, col, dash)
		}
		b.WriteString(marker(markers[i%len(markers)], float64(lx+11), float64(ly-4), 3.5, col, false, ""))
		fmt.Fprintf(&b, `<text x="%d" y="%d" %s>%s</text></g>`, lx+26, ly, fontAttr, esc(truncate(s.Name, 24)))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// refColor is a reference line's colour.
func refColor(r refLine) string {
	if r.Color != "" {
		return r.Color
	}
	return "#888"
}

// markerAt says whether point j of n of series i (of m) gets a marker:
// every point of a short series; on a long one (a distribution) eight
// markers, staggered between series so that they do not fall on each
// other where the lines overlap.
func markerAt(j, n, i, m int) bool {
	if n <= 12 {
		return true
	}
	const k = 8
	step := float64(n) / k
	off := step * float64(i) / float64(max(m, 1))
	for q := 0; q < k; q++ {
		if j == int(off+step*float64(q)) {
			return true
		}
	}
	return false
}

// marker draws a marker shape at (x, y), filled or hollow, with a title.
func marker(shape string, x, y, r float64, col string, hollow bool, title string) string {
	fill := fmt.Sprintf(`fill="%s" fill-opacity="0.85" stroke="#fff" stroke-width="1"`, col)
	if hollow {
		fill = fmt.Sprintf(`fill="#fff" stroke="%s" stroke-width="2"`, col)
	}
	t := ""
	if title != "" {
		t = "<title>" + esc(title) + "</title>"
	}
	switch shape {
	case "square":
		return fmt.Sprintf(`<rect class="marker" x="%.1f" y="%.1f" width="%.1f" height="%.1f" %s>%s</rect>`, x-r, y-r, 2*r, 2*r, fill, t)
	case "triangle":
		return fmt.Sprintf(`<polygon class="marker" points="%.1f,%.1f %.1f,%.1f %.1f,%.1f" %s>%s</polygon>`, x, y-1.2*r, x-1.1*r, y+0.8*r, x+1.1*r, y+0.8*r, fill, t)
	case "diamond":
		return fmt.Sprintf(`<polygon class="marker" points="%.1f,%.1f %.1f,%.1f %.1f,%.1f %.1f,%.1f" %s>%s</polygon>`, x, y-1.3*r, x+1.3*r, y, x, y+1.3*r, x-1.3*r, y, fill, t)
	case "cross":
		return fmt.Sprintf(`<path class="marker" d="M%.1f %.1fL%.1f %.1fM%.1f %.1fL%.1f %.1f" stroke="%s" stroke-width="2.5">%s</path>`, x-r, y-r, x+r, y+r, x-r, y+r, x+r, y-r, col, t)
	}
	return fmt.Sprintf(`<circle class="marker" cx="%.1f" cy="%.1f" r="%.1f" %s>%s</circle>`, x, y, r, fill, t)
}

func pointTitle(name string, p point) string {
	if p.Label != "" {
		return fmt.Sprintf("%s %s: %s, %s", name, p.Label, tickLabel(p.X), tickLabel(p.Y))
	}
	return fmt.Sprintf("%s: %s", name, tickLabel(p.Y))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func minOf(v []float64) float64 {
	m := math.Inf(1)
	for _, x := range v {
		m = math.Min(m, x)
	}
	return m
}

func maxOf(v []float64) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = math.Max(m, x)
	}
	return m
}

// cdf returns at most n points of the empirical distribution of v
// (x: value, y: percent of values <= x).
func cdf(v []float64, n int) []point {
	if len(v) == 0 {
		return nil
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	step := 1
	if len(s) > n {
		step = len(s) / n
	}
	var out []point
	for i := 0; i < len(s); i += step {
		out = append(out, point{X: s[i], Y: 100 * float64(i+1) / float64(len(s))})
	}
	if last := s[len(s)-1]; out[len(out)-1].X != last || out[len(out)-1].Y != 100 {
		out = append(out, point{X: last, Y: 100})
	}
	return out
}
