package tiers

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// At is the load at which a tier must hold: a closed-loop concurrency or
// an open-loop arrival rate (requests per second). The zero value is the
// single stream, concurrency 1, where tiers come from by default. A
// backend that is fast alone may be moderate at eight streams; a tier
// required at c=8 is the tier measured at c=8.
type At struct {
	Concurrency int     `json:"concurrency,omitempty" yaml:"concurrency"`
	Rate        float64 `json:"rate,omitempty" yaml:"rate"`
}

// Single reports whether a is the single stream (concurrency 1).
func (a At) Single() bool {
	return a.Rate == 0 && a.Concurrency <= 1
}

// String names the load as the bench labels its steps: "c=8" or
// "rate=2/s".
func (a At) String() string {
	if a.Rate > 0 {
		return "rate=" + strconv.FormatFloat(a.Rate, 'g', -1, 64) + "/s"
	}
	return "c=" + strconv.Itoa(max(a.Concurrency, 1))
}

// Validate says what is wrong with a, if anything.
func (a At) Validate() error {
	switch {
	case a.Concurrency < 0 || a.Rate < 0 || bad(a.Rate):
		return errors.New("the load a tier must hold at must be a positive concurrency or rate")
	case a.Concurrency > 0 && a.Rate > 0:
		return errors.New("the load a tier must hold at is a concurrency or a rate, not both")
	}
	return nil
}

// ParseAt reads a load such as "concurrency=8", "c=8" or "rate=2" (per
// second; "rate=2/s" too).
func ParseAt(s string) (At, error) {
	k, v, ok := strings.Cut(strings.TrimSpace(s), "=")
	fail := fmt.Errorf("%q: give concurrency=N or rate=R (requests per second), e.g. concurrency=8", s)
	if !ok {
		return At{}, fail
	}
	var a At
	switch strings.TrimSpace(k) {
	case "concurrency", "c":
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n <= 0 {
			return At{}, fail
		}
		a.Concurrency = n
	case "rate":
		r, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), "/s"), 64)
		if err != nil || !(r > 0) || bad(r) {
			return At{}, fail
		}
		a.Rate = r
	default:
		return At{}, fail
	}
	return a, nil
}
