package tiers

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/tiergate/tiergate/internal/config"
)

// At is the load at which a tier must hold (config.TierAt: a rule's
// `at`, or bench's -tier-at for rules without one).
type At = config.TierAt

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
