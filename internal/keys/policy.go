package keys

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/tiergate/tiergate/internal/catalog"
)

// Policy is what a key may do. Every field is optional; the zero Policy
// allows everything. The JSON shape is the admin API's and the config
// file's (auth.keys[].policy); scripts write against it.
type Policy struct {
	// Profile forces a routing profile; Profiles and Models allow only these.
	Profile  string   `json:"profile,omitempty"`
	Profiles []string `json:"profiles,omitempty"`
	Models   []string `json:"models,omitempty"`
	// Openness and Deployment bound the backends the key may reach.
	Openness   []string `json:"openness,omitempty"`
	Deployment []string `json:"deployment,omitempty"`
	// RPM and TPM are requests and tokens per minute; MaxConcurrent the
	// requests in flight at once (0: no limit).
	RPM           int     `json:"rpm,omitempty"`
	TPM           int     `json:"tpm,omitempty"`
	MaxConcurrent int     `json:"max_concurrent,omitempty"`
	Budget        *Budget `json:"budget,omitempty"`
}

// MaxRPM is the largest rpm a policy may set.
const MaxRPM = 100_000

// Budget is a spend limit in USD per period.
type Budget struct {
	USD    float64 `json:"usd"`
	Period string  `json:"period"`
}

// Budget periods.
const (
	Day   = "day"
	Month = "month"
)

// policyFields lists the fields, for the unknown-field message.
const policyFields = "profile, profiles, models, openness, deployment, rpm, tpm, max_concurrent, budget"

// ParsePolicy reads a policy strictly: an unknown field, a wrong type,
// trailing data or an out-of-range value is an error naming it.
func ParsePolicy(b []byte) (Policy, error) {
	if t := bytes.TrimSpace(b); len(t) == 0 || string(t) == "null" {
		return Policy{}, nil
	}
	type plain Policy // without UnmarshalJSON: no recursion
	var q plain
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&q); err != nil {
		return Policy{}, policyError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Policy{}, errors.New("policy: unexpected data after the policy object")
	}
	if err := Policy(q).Validate(); err != nil {
		return Policy{}, err
	}
	return Policy(q), nil
}

// UnmarshalJSON is ParsePolicy, so that a Policy inside a larger JSON
// document (an admin API request) is read as strictly.
func (p *Policy) UnmarshalJSON(b []byte) error {
	q, err := ParsePolicy(b)
	if err != nil {
		return err
	}
	*p = q
	return nil
}

func policyError(err error) error {
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return fmt.Errorf("policy: unknown field %s; the fields are %s", f, policyFields)
	}
	var ute *json.UnmarshalTypeError
	if errors.As(err, &ute) {
		return fmt.Errorf("policy: %s is a %s here, but needs a %s", ute.Field, ute.Value, ute.Type)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("policy: not valid JSON at byte %d: %v", se.Offset, err)
	}
	return fmt.Errorf("policy: %s", strings.TrimPrefix(msg, "json: "))
}

// RoutingRules says in one line what the policy does to routing (a
// forced profile, the allowed profiles and models, the openness and
// deployment bounds), "" when nothing: the gateway adds it to a
// decision's reason, so explain and X-Tiergate-Route name the key's
// rules beside the router's.
func (p Policy) RoutingRules() string {
	var parts []string
	if p.Profile != "" {
		parts = append(parts, "profile "+p.Profile+" forced")
	}
	for _, f := range []struct {
		name string
		list []string
	}{{"profiles", p.Profiles}, {"models", p.Models}, {"openness", p.Openness}, {"deployment", p.Deployment}} {
		if len(f.list) > 0 {
			parts = append(parts, f.name+" "+strings.Join(f.list, "/"))
		}
	}
	return strings.Join(parts, ", ")
}

// CheckProfiles refuses a policy that names (in profile or profiles) a
// routing profile that is not one of known; an empty known checks
// nothing.
func (p Policy) CheckProfiles(known []string) error {
	if len(known) == 0 {
		return nil
	}
	for _, name := range append([]string{p.Profile}, p.Profiles...) {
		if name != "" && !slices.Contains(known, name) {
			return fmt.Errorf("policy: profile %q is not a routing profile; the profiles are %s", name, strings.Join(known, ", "))
		}
	}
	return nil
}

// Validate checks the values' ranges.
func (p Policy) Validate() error {
	for name, v := range map[string]int{"rpm": p.RPM, "tpm": p.TPM, "max_concurrent": p.MaxConcurrent} {
		if v < 0 {
			return fmt.Errorf("policy: %s must be 0 (no limit) or more, not %d", name, v)
		}
	}
	// The limiter keeps one time per request of the last minute.
	if p.RPM > MaxRPM {
		return fmt.Errorf("policy: rpm %d is above the most the gateway counts, %d; leave rpm out for no limit", p.RPM, MaxRPM)
	}
	if b := p.Budget; b != nil {
		if b.Period != Day && b.Period != Month {
			return fmt.Errorf("policy: budget.period %q is not %q or %q", b.Period, Day, Month)
		}
		if b.USD < 0 || math.IsNaN(b.USD) || math.IsInf(b.USD, 0) {
			return fmt.Errorf("policy: budget.usd must be a positive amount, not %v", b.USD)
		}
	}
	for field, list := range map[string][]string{"profiles": p.Profiles, "models": p.Models, "openness": p.Openness, "deployment": p.Deployment} {
		for _, s := range list {
			if strings.TrimSpace(s) == "" {
				return fmt.Errorf("policy: %s holds an empty name", field)
			}
		}
	}
	for _, o := range p.Openness {
		if !slices.Contains(opennesses, o) {
			return fmt.Errorf("policy: openness %q is not one of %s", o, strings.Join(opennesses, ", "))
		}
	}
	for _, d := range p.Deployment {
		if !slices.Contains(deployments, d) {
			return fmt.Errorf("policy: deployment %q is not one of %s", d, strings.Join(deployments, ", "))
		}
	}
	return nil
}

// The catalog's values, spelled as the config file spells them.
var (
	opennesses  = []string{string(catalog.OpenSource), string(catalog.OpenWeight), string(catalog.Proprietary)}
	deployments = []string{string(catalog.Local), string(catalog.SelfHosted), string(catalog.SaaS)}
)
