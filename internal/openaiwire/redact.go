package openaiwire

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
)

// Redacted is what a scrubbed secret is replaced with.
const Redacted = "[redacted]"

// minSecret is the shortest secret a Redactor scrubs: a shorter one would
// blank ordinary words.
const minSecret = 4

// Redactor scrubs secrets (a provider's API key) from bytes, strings and
// headers, whatever the secret's shape: its own bytes wherever they stand
// (glued to other text, as in key=sk-...), and the forms it takes when an
// upstream echoes it URL-encoded, JSON-escaped or base64-encoded. The zero
// Redactor and a nil *Redactor scrub nothing. It is safe for concurrent use.
type Redactor struct {
	raw   [][]byte // the secrets as given, for the cheap check
	forms [][]byte // every form to scrub, longest first
}

// NewRedactor returns a Redactor for secrets; empty and very short ones
// are ignored.
func NewRedactor(secrets ...string) *Redactor {
	r := &Redactor{}
	seen := map[string]bool{}
	add := func(s string) {
		if len(s) >= minSecret && !seen[s] {
			seen[s] = true
			r.forms = append(r.forms, []byte(s))
		}
	}
	for _, s := range secrets {
		if len(s) < minSecret {
			continue
		}
		r.raw = append(r.raw, []byte(s))
		add(s)
		add(url.QueryEscape(s))
		add(url.PathEscape(s))
		if b, err := json.Marshal(s); err == nil {
			add(string(b[1 : len(b)-1]))
		}
		add(strings.ReplaceAll(s, "/", `\/`))
		for _, f := range base64Forms(s) {
			add(f)
		}
	}
	// Longest first, so that a form containing another is replaced whole.
	for i := 1; i < len(r.forms); i++ {
		for j := i; j > 0 && len(r.forms[j]) > len(r.forms[j-1]); j-- {
			r.forms[j], r.forms[j-1] = r.forms[j-1], r.forms[j]
		}
	}
	return r
}

// base64Forms returns the parts of a secret's base64 encoding that stay
// the same wherever the secret stands in a longer encoded text (as in a
// Basic auth header of "user:key"): one for each of the three alignments,
// in the standard and the URL alphabet.
func base64Forms(s string) []string {
	var out []string
	for off := 0; off < 3; off++ {
		enc := base64.RawStdEncoding.EncodeToString(append(make([]byte, off), s...))
		start := 0
		if off > 0 {
			start = 4 // the first group mixes the unknown prefix in
		}
		end := (off + len(s)) / 3 * 4 // the last partial group mixes the suffix in
		if end-start < 8 {
			continue
		}
		f := enc[start:end]
		out = append(out, f)
		if u := strings.NewReplacer("+", "-", "/", "_").Replace(f); u != f {
			out = append(out, u)
		}
	}
	return out
}

// Active reports whether r has a secret to scrub.
func (r *Redactor) Active() bool { return r != nil && len(r.forms) > 0 }

// MayHold is the cheap check for the hot path: whether b contains a
// secret as given (not its encoded forms).
func (r *Redactor) MayHold(b []byte) bool {
	if r == nil {
		return false
	}
	for _, s := range r.raw {
		if bytes.Contains(b, s) {
			return true
		}
	}
	return false
}

// Guard is the hot path's scrub, for answers and stream events that pass
// on unchanged: b itself unless it holds a secret as given, else Bytes(b).
func (r *Redactor) Guard(b []byte) []byte {
	if r.MayHold(b) {
		return r.Bytes(b)
	}
	return b
}

// Bytes returns b with every form of every secret replaced by Redacted.
// It returns b itself (not a copy) when there is nothing to scrub.
func (r *Redactor) Bytes(b []byte) []byte {
	if !r.Active() {
		return b
	}
	for _, f := range r.forms {
		if bytes.Contains(b, f) {
			b = bytes.ReplaceAll(b, f, []byte(Redacted))
		}
	}
	return b
}

// String is Bytes for a string.
func (r *Redactor) String(s string) string {
	if !r.Active() {
		return s
	}
	for _, f := range r.forms {
		if strings.Contains(s, string(f)) {
			s = strings.ReplaceAll(s, string(f), Redacted)
		}
	}
	return s
}

// Header returns a copy of h with every value scrubbed (h itself when
// nothing needed scrubbing).
func (r *Redactor) Header(h http.Header) http.Header {
	if !r.Active() || h == nil {
		return h
	}
	var out http.Header
	for k, vs := range h {
		for i, v := range vs {
			if s := r.String(v); s != v {
				if out == nil {
					out = h.Clone()
				}
				out[k][i] = s
			}
		}
	}
	if out == nil {
		return h
	}
	return out
}
