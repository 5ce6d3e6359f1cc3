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

// classifier tells a request's domain from keywords and patterns.
type classifier struct {
	domains []domainRule
}

type domainRule struct {
	name     string
	keywords []string // lower case
	patterns []*regexp.Regexp
}

func newClassifier(domains map[string]*config.Domain) *classifier {
	c := &classifier{}
	names := make([]string, 0, len(domains))
	for n := range domains {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		d := domains[n]
		r := domainRule{name: n}
		for _, k := range d.Keywords {
			r.keywords = append(r.keywords, strings.ToLower(k))
		}
		for _, p := range d.Patterns {
			r.patterns = append(r.patterns, regexp.MustCompile("(?i)"+p)) // validated by config
		}
		c.domains = append(c.domains, r)
	}
	return c
}

// classify returns the domain with the most keyword and pattern hits in
// the text, "" when none hits.
func (c *classifier) classify(raw json.RawMessage) string {
	if len(c.domains) == 0 || len(raw) == 0 {
		return ""
	}
	text := contentText(raw)
	if len(text) > maxClassify {
		text = text[len(text)-maxClassify:]
	}
	lower := strings.ToLower(text)
	best, bestHits := "", 0
	for _, d := range c.domains {
		hits := 0
		for _, k := range d.keywords {
			if containsWord(lower, k) {
				hits++
			}
		}
		for _, p := range d.patterns {
			if p.MatchString(text) {
				hits++
			}
		}
		if hits > bestHits {
			best, bestHits = d.name, hits
		}
	}
	return best
}

// containsWord reports whether w occurs in s at word boundaries.
func containsWord(s, w string) bool {
	for i := 0; ; {
		j := strings.Index(s[i:], w)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(w)
		if (start == 0 || !isWordByte(s[start-1])) && (end == len(s) || !isWordByte(s[end])) {
			return true
		}
		i = start + 1
	}
}

func isWordByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '_' || b >= 0x80
}

// contentText extracts the text of a message content (a string or an
// array of parts).
func contentText(raw json.RawMessage) string {
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		json.Unmarshal(raw, &s)
		return s
	}
	var parts []struct {
		Text string `json:"text"`
	}
	json.Unmarshal(raw, &parts)
	var b strings.Builder
	for _, p := range parts {
		b.WriteString(p.Text)
		b.WriteByte(' ')
	}
	return b.String()
}

func (c *classifier) names() map[string]*config.Domain {
	out := make(map[string]*config.Domain, len(c.domains))
	for _, d := range c.domains {
		out[d.name] = nil
	}
	return out
}
