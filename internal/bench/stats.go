package bench

import (
	"math"
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
