package bench

import (
	"math"
	"time"
)

// Second is one second of a step: what happened in it.
type Second struct {
	// Repeat numbers the repeat when the step ran more than once.
	Repeat int `json:"repeat,omitempty"`
	// T is the second's start, in seconds from the step's start.
	T int `json:"t"`
	// Completed and Failed count requests that ended in the second.
	Completed int `json:"completed"`
	Failed    int `json:"failed"`
	// OutputTokensPerS is the tokens that arrived in the second: each
	// request's output tokens spread evenly over its content chunks.
	OutputTokensPerS float64 `json:"output_tokens_per_s"`
	// TTFTP50Ms is the median TTFT of the requests whose first token
	// came in the second (absent when none did).
	TTFTP50Ms float64 `json:"ttft_p50_ms,omitempty"`
	// FirstTokens counts those requests.
	FirstTokens int `json:"first_tokens"`
}

// maxSeries bounds a step's time series (a day of seconds).
const maxSeries = 86400

// series buckets a segment's records by the second, from its start.
func series(sg segment, repeated bool) []Second {
	var out []Second
	at := func(t time.Time) *Second {
		i := int(math.Floor(t.Sub(sg.started).Seconds()))
		if i < 0 || i >= maxSeries {
			return nil
		}
		for len(out) <= i {
			s := Second{T: len(out)}
			if repeated {
				s.Repeat = sg.repeat
			}
			out = append(out, s)
		}
		return &out[i]
	}
	ttfts := map[int][]float64{}
	for i := range sg.recs {
		r := &sg.recs[i]
		if s := at(r.End); s != nil {
			if r.OK {
				s.Completed++
			} else {
				s.Failed++
			}
		}
		if !r.OK || r.Chunks == 0 {
			continue
		}
		first := r.Start.Add(r.TTFT)
		if s := at(first); s != nil {
			s.FirstTokens++
			ttfts[s.T] = append(ttfts[s.T], msOf(r.TTFT))
		}
		per := float64(r.OutputTokens) / float64(r.Chunks)
		t := first
		if s := at(t); s != nil {
			s.OutputTokensPerS += per
		}
		for _, g := range r.ITL {
			t = t.Add(g)
			if s := at(t); s != nil {
				s.OutputTokensPerS += per
			}
		}
	}
	for i := range out {
		out[i].OutputTokensPerS = round(out[i].OutputTokensPerS)
		if v := ttfts[i]; len(v) > 0 {
			out[i].TTFTP50Ms = Summarize(v).P50
		}
	}
	return out
}
