package router

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"

	"github.com/tiergate/tiergate/internal/config"
)

// maxClassify bounds how much of a message the classifier reads, so a
// decision stays in microseconds whatever the prompt's size.
const maxClassify = 4096

// maxPattern bounds the text the (slower) patterns read.
const maxPattern = 512

// classifier tells a request's domain from keywords and patterns.
type classifier struct {
	domains []domainRule
	// words maps a lower-case keyword to the domains (bit i = domains[i])
	// that list it, so the text is read once whatever the keyword count.
	words map[string]uint64
}

type domainRule struct {
	name     string
	patterns []*regexp.Regexp
}

func newClassifier(domains map[string]*config.Domain) *classifier {
	c := &classifier{words: map[string]uint64{}}
	names := make([]string, 0, len(domains))
	for n := range domains {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) > 64 {
		names = names[:64]
	}
	for i, n := range names {
		d := domains[n]
		r := domainRule{name: n}
		for _, k := range d.Keywords {
			c.words[strings.ToLower(k)] |= 1 << i
		}
		for _, p := range d.Patterns {
			r.patterns = append(r.patterns, regexp.MustCompile("(?i)"+p)) // validated by config
		}
		c.domains = append(c.domains, r)
	}
	return c
}

// classify returns the domain with the most keyword and pattern hits in
// the text, "" when none hits. It reads the raw JSON content directly
// (escapes only add a letter of noise) and at most maxClassify bytes.
func (c *classifier) classify(raw json.RawMessage) string {
	if len(c.domains) == 0 || len(raw) == 0 {
		return ""
	}
	text := []byte(raw)
	if len(text) > maxClassify {
		text = text[len(text)-maxClassify:]
	}
	var hits [64]int
	var word [48]byte
	n := 0
	flush := func() {
		if n > 0 && n <= len(word) {
			if mask, ok := c.words[string(word[:n])]; ok {
				for i := range c.domains {
					if mask&(1<<i) != 0 {
						hits[i]++
					}
				}
			}
		}
		n = 0
	}
	for _, b := range text {
		switch {
		case b >= 'A' && b <= 'Z':
			b += 'a' - 'A'
			fallthrough
		case b >= 'a' && b <= 'z', b >= '0' && b <= '9', b == '-', b == '_', b >= 0x80:
			if n < len(word) {
				word[n] = b
			}
			n++
		default:
			flush()
		}
	}
	flush()
	// Regular expressions cost ~30 ns a byte: they read only the first
	// maxPattern bytes.
	pt := text
	if len(pt) > maxPattern {
		pt = pt[:maxPattern]
	}
	best, bestHits := "", 0
	for i, d := range c.domains {
		for _, p := range d.patterns {
			if p.Match(pt) {
				hits[i]++
			}
		}
		if hits[i] > bestHits {
			best, bestHits = d.name, hits[i]
		}
	}
	return best
}

func (c *classifier) names() map[string]*config.Domain {
	out := make(map[string]*config.Domain, len(c.domains))
	for _, d := range c.domains {
		out[d.name] = nil
	}
	return out
}
