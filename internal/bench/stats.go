package bench

import (
	"math"
	"math/rand/v2"
	"sort"
	"time"
)

// Stats summarises a distribution.
type Stats struct {
	Count int     `json:"count"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	Min   float64 `json:"min"`
	Max   float64 `json:"max"`
}

// Summarize returns the statistics of v, nil when v is empty. It does
// not modify v.
func Summarize(v []float64) *Stats {
	if len(v) == 0 {
		return nil
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	sum := 0.0
	for _, x := range s {
		sum += x
	}
	return &Stats{Count: len(s), Mean: round(sum / float64(len(s))),
		P50: round(Percentile(s, 50)), P90: round(Percentile(s, 90)), P99: round(Percentile(s, 99)),
		Min: round(s[0]), Max: round(s[len(s)-1])}
}

// Percentile returns the p-th percentile (0-100) of sorted values,
// interpolating linearly between the closest ranks (numpy's default, as
// vLLM's benchmark uses).
func Percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	if p <= 0 {
		return sorted[0]
	}
	if p >= 100 {
		return sorted[len(sorted)-1]
	}
	pos := p / 100 * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	if lo+1 >= len(sorted) {
		return sorted[lo]
	}
	frac := pos - float64(lo)
	return sorted[lo] + frac*(sorted[lo+1]-sorted[lo])
}

// round keeps microsecond precision on millisecond figures.
func round(v float64) float64 { return Round(v) }

// Round keeps three decimals (microseconds on millisecond figures).
func Round(v float64) float64 { return math.Round(v*1000) / 1000 }

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// MedianCI returns a percentile-bootstrap confidence interval at level
// conf (e.g. 0.95) for the median of the pooled groups, from resamples
// draws seeded with seed. Each group is one repeat of the measurement: a
// draw first resamples the groups, then the values within each drawn
// group (a two-level bootstrap), so the interval holds the spread between
// repeats as well as within them. With one group it is the ordinary
// bootstrap. It returns NaNs when there is no value.
func MedianCI(groups [][]float64, resamples int, conf float64, seed uint64) (lo, hi float64) {
	var nonEmpty [][]float64
	n := 0
	for _, g := range groups {
		if len(g) > 0 {
			nonEmpty = append(nonEmpty, g)
			n += len(g)
		}
	}
	if n == 0 || resamples <= 0 {
		return math.NaN(), math.NaN()
	}
	rng := rand.New(rand.NewPCG(seed, 0x6d656469616e)) // "median"
	meds := make([]float64, resamples)
	buf := make([]float64, 0, n)
	for i := range meds {
		buf = buf[:0]
		for range nonEmpty {
			g := nonEmpty[rng.IntN(len(nonEmpty))]
			for range g {
				buf = append(buf, g[rng.IntN(len(g))])
			}
		}
		sort.Float64s(buf)
		meds[i] = Percentile(buf, 50)
	}
	sort.Float64s(meds)
	alpha := (1 - conf) / 2 * 100
	return Percentile(meds, alpha), Percentile(meds, 100-alpha)
}
