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
}

type series struct {
	Name   string
	Points []point
	Dashed bool
	// Color overrides the palette.
	Color string
}

type refLine struct {
	At    float64
	Label string
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
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#888" stroke-dasharray="4 3"/>`, x, x, padT, padT+plotH)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" %s fill="#555">%s</text>`, x+3, padT+10+12*(i%3), fontAttr, esc(r.Label))
	}
	for _, r := range c.HRefs {
		y := py(r.At)
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#888" stroke-dasharray="4 3"/>`, padL, padL+plotW, y, y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" %s fill="#555" text-anchor="end">%s</text>`, padL+plotW-3, y-3, fontAttr, esc(r.Label))
	}
	// series
	for i, s := range c.Series {
		col := color(i)
		if s.Color != "" {
			col = s.Color
		}
		var pts []string
		for _, p := range s.Points {
			if !finite(p.X) || !finite(p.Y) || (c.LogX && p.X <= 0) || (c.LogY && p.Y <= 0) {
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(p.X), py(p.Y)))
			if c.Scatter || len(s.Points) <= 12 {
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="%d" fill="%s"><title>%s</title></circle>`, px(p.X), py(p.Y), map[bool]int{true: 5, false: 3}[c.Scatter], col,
					esc(pointTitle(s.Name, p)))
				if c.Scatter && p.Label != "" {
					fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" %s>%s</text>`, px(p.X)+7, py(p.Y)+4, fontAttr, esc(p.Label))
				}
			}
		}
		if !c.Scatter && len(pts) > 1 {
			dash := ""
			if s.Dashed {
				dash = ` stroke-dasharray="6 3"`
			}
			fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s/>`, strings.Join(pts, " "), col, dash)
		}
		// legend, below the axis label
		lx := padL + (i%4)*(plotW/4)
		ly := padT + plotH + 46 + (i/4)*14
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d" %s>%s</text>`, lx, ly-9, col, lx+14, ly, fontAttr, esc(truncate(s.Name, 28)))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
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
