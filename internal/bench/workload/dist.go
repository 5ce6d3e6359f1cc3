package workload

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
)

// MaxLen bounds every length a Dist gives, in tokens.
const MaxLen = 1 << 20

// Dist is a distribution of lengths in tokens. Draw depends on its
// arguments only, so the length of request key under seed is the same
// whichever worker asks first.
type Dist interface {
	// Draw returns a length between 1 and MaxLen.
	Draw(seed, key uint64) int
	// String is the distribution in ParseDist's syntax, normalised.
	String() string
}

// DistSyntax tells the accepted forms, for flag help and errors.
const DistSyntax = "N or fixed:N, uniform:MIN,MAX, normal:MEAN,SD[,MIN,MAX], lognormal:MEAN,SIGMA[,MIN,MAX], exponential:MEAN[,MIN,MAX] or file:PATH"

// ParseDist reads a distribution: "128" or "fixed:128"; "uniform:64,256"
// (both ends included); "normal:256,64" (mean and standard deviation);
// "lognormal:256,0.5" (mean and sigma, the standard deviation of the
// length's logarithm); "exponential:256" (mean). Random ones may end with
// ",MIN,MAX", the bounds a draw is clamped to (default 1 and MaxLen).
// "file:PATH" reads lengths from a file (ReadLengths) through open, used
// in turn. Lengths are rounded to whole tokens.
func ParseDist(spec string, open func(string) (io.ReadCloser, error)) (Dist, error) {
	kind, args, found := strings.Cut(strings.TrimSpace(spec), ":")
	if !found {
		kind, args = "fixed", kind
	}
	kind = strings.ToLower(kind)
	if kind == "file" {
		if args == "" {
			return nil, errors.New("file: give a path")
		}
		if open == nil {
			return nil, errors.New("file: lengths from a file are not available here")
		}
		f, err := open(args)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		l, err := ReadLengths(args, f)
		if err != nil {
			return nil, err
		}
		return l, nil
	}
	var v []float64
	for _, s := range strings.Split(args, ",") {
		x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("%q: %q is not a number (use %s)", spec, strings.TrimSpace(s), DistSyntax)
		}
		v = append(v, x)
	}
	want := map[string]int{"fixed": 1, "uniform": 2, "normal": 2, "lognormal": 2, "exponential": 1}
	n, ok := want[kind]
	if !ok {
		return nil, fmt.Errorf("%q: unknown distribution %q (use %s)", spec, kind, DistSyntax)
	}
	if len(v) != n && !(kind != "fixed" && kind != "uniform" && len(v) == n+2) {
		return nil, fmt.Errorf("%q: %s takes %d number(s) (use %s)", spec, kind, n, DistSyntax)
	}
	d := &random{kind: kind, lo: 1, hi: MaxLen}
	if len(v) == n+2 {
		d.lo, d.hi, d.clamped = v[n], v[n+1], true
	}
	switch kind {
	case "fixed":
		d.a, d.lo, d.hi = v[0], v[0], v[0]
	case "uniform":
		d.a, d.b, d.lo, d.hi = v[0], v[1], v[0], v[1]
	default:
		d.a = v[0]
		if n == 2 {
			d.b = v[1]
		}
	}
	switch {
	case d.lo < 1 || d.hi > MaxLen || d.lo > d.hi:
		return nil, fmt.Errorf("%q: lengths must be between 1 and %d tokens, the least first", spec, MaxLen)
	case kind != "fixed" && kind != "uniform" && !(d.a > 0):
		return nil, fmt.Errorf("%q: the mean must be positive", spec)
	case (kind == "normal" || kind == "lognormal") && d.b < 0:
		return nil, fmt.Errorf("%q: the spread must not be negative", spec)
	case (d.a != math.Round(d.a) || d.b != math.Round(d.b)) && (kind == "fixed" || kind == "uniform"):
		return nil, fmt.Errorf("%q: give whole tokens", spec)
	}
	return d, nil
}

// Fixed is a distribution of one length.
func Fixed(n int) Dist {
	n = min(max(n, 1), MaxLen)
	return &random{kind: "fixed", a: float64(n), lo: float64(n), hi: float64(n)}
}

// random is a parametric distribution.
type random struct {
	kind    string
	a, b    float64 // the parameters as given
	lo, hi  float64 // bounds a draw is clamped to
	clamped bool    // the bounds were given
}

func (d *random) Draw(seed, key uint64) int {
	if d.kind == "fixed" {
		return int(d.a)
	}
	rng := rand.New(rand.NewPCG(seed, key))
	var x float64
	switch d.kind {
	case "uniform":
		return int(d.a) + rng.IntN(int(d.b-d.a)+1)
	case "normal":
		x = d.a + d.b*rng.NormFloat64()
	case "lognormal":
		// The mean of exp(N(mu, sigma)) is exp(mu + sigma²/2).
		mu := math.Log(d.a) - d.b*d.b/2
		x = math.Exp(mu + d.b*rng.NormFloat64())
	case "exponential":
		x = d.a * rng.ExpFloat64()
	}
	return int(math.Round(math.Min(math.Max(x, d.lo), d.hi)))
}

func (d *random) String() string {
	g := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	s := d.kind + ":" + g(d.a)
	if d.kind == "uniform" || d.kind == "normal" || d.kind == "lognormal" {
		s += "," + g(d.b)
	}
	if d.clamped {
		s += "," + g(d.lo) + "," + g(d.hi)
	}
	return s
}

// Lengths are lengths read from a file, used in turn: key k gets the
// (k mod n)-th.
type Lengths struct {
	Name   string
	Values []int
}

// Draw returns the key's length; the seed does not matter.
func (l *Lengths) Draw(_, key uint64) int { return l.Values[key%uint64(len(l.Values))] }

func (l *Lengths) String() string { return "file:" + l.Name }

// ReadLengths reads a lengths file: one whole number of tokens per line
// (blank lines and lines starting with # are skipped). name is used in
// errors.
func ReadLengths(name string, r io.Reader) (*Lengths, error) {
	sc := bufio.NewScanner(r)
	l := &Lengths{Name: name}
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 || b[0] == '#' {
			continue
		}
		n, err := strconv.Atoi(string(b))
		if err != nil || n < 1 || n > MaxLen {
			return nil, fmt.Errorf("%s:%d: %q is not a length (a whole number of tokens, 1 to %d)", name, line, b, MaxLen)
		}
		l.Values = append(l.Values, n)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(l.Values) == 0 {
		return nil, fmt.Errorf("%s: no lengths: write one whole number of tokens per line", name)
	}
	return l, nil
}
