package keys

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestNewSecret(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		s, err := NewSecret()
		if err != nil {
			t.Fatal(err)
		}
		if err := ParseSecret(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if seen[s] {
			t.Fatal("a secret repeated")
		}
		seen[s] = true
	}
}

func TestParseSecret(t *testing.T) {
	good, _ := NewSecret()
	for _, tc := range []struct {
		in   string
		want string // "" for ok
	}{
		{good, ""},
		{"sk-" + good[3:], "starts with tg-"},
		{good[:len(good)-1], "43 characters"},
		{good[:len(good)-1] + "!", "only letters and digits"},
		{"", "starts with tg-"},
	} {
		err := ParseSecret(tc.in)
		if (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseSecret(%q) = %v, want %q", tc.in, err, tc.want)
		}
		if err != nil && tc.in != "" && strings.Contains(err.Error(), tc.in) {
			t.Errorf("the error quotes the secret: %v", err)
		}
	}
}

func TestParseHash(t *testing.T) {
	s, _ := NewSecret()
	h := HashSecret(s)
	got, err := ParseHash(h.String())
	if err != nil || got != h {
		t.Fatalf("ParseHash(%s) = %v, %v", h, got, err)
	}
	for _, bad := range []string{"", "md5:00", "sha256:zz" + strings.Repeat("0", 62), "sha256:00"} {
		if _, err := ParseHash(bad); err == nil {
			t.Errorf("ParseHash(%q) accepted", bad)
		}
	}
}

func TestParsePolicy(t *testing.T) {
	full := `{"profile": "private", "profiles": ["private", "domain"], "models": ["llama3-8b"],
	  "openness": ["open-source", "open-weight"], "deployment": ["local", "self-hosted"],
	  "rpm": 60, "tpm": 100000, "max_concurrent": 4, "budget": {"usd": 50, "period": "month"}}`
	p, err := ParsePolicy([]byte(full))
	if err != nil {
		t.Fatal(err)
	}
	if p.Profile != "private" || p.RPM != 60 || p.TPM != 100000 || p.MaxConcurrent != 4 || p.Budget == nil || p.Budget.USD != 50 || len(p.Deployment) != 2 {
		t.Fatalf("parsed %+v", p)
	}
	for _, tc := range []struct{ in, want string }{
		{`{"rpn": 60}`, `unknown field "rpn"`},
		{`{"budget": {"usd": 5, "period": "week"}}`, `budget.period "week"`},
		{`{"budget": {"usd": 5, "per": "day"}}`, `unknown field "per"`},
		{`{"rpm": -1}`, "rpm must be 0"},
		{`{"rpm": 100001}`, "above the most"},
		{`{"rpm": "60"}`, "rpm is a string"},
		{`{"openness": ["closed"]}`, `openness "closed"`},
		{`{"deployment": ["cloud"]}`, `deployment "cloud"`},
		{`{} {}`, "unexpected data"},
		{`{"models": [""]}`, "empty name"},
		{`[1]`, "policy:"},
	} {
		_, err := ParsePolicy([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParsePolicy(%s) = %v, want an error with %q", tc.in, err, tc.want)
		}
	}
	if p, err := ParsePolicy(nil); err != nil || p.RPM != 0 {
		t.Errorf("an empty policy: %+v, %v", p, err)
	}
}

func FuzzParsePolicy(f *testing.F) {
	f.Add([]byte(`{"profile":"private","rpm":60,"budget":{"usd":50,"period":"month"}}`))
	f.Add([]byte(`{"rpn":1}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePolicy(b)
		if err != nil {
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("parsed but invalid: %v", err)
		}
	})
}

func FuzzParseSecret(f *testing.F) {
	s, _ := NewSecret()
	f.Add(s)
	f.Add("tg-")
	f.Add("sha256:00")
	f.Fuzz(func(t *testing.T, s string) {
		if err := ParseSecret(s); err != nil && len(s) > 8 && strings.Contains(err.Error(), s) {
			t.Fatalf("the error quotes its input: %v", err)
		}
		if h, err := ParseHash(s); err == nil && h.String() != strings.ToLower(s) {
			t.Fatalf("ParseHash(%q) round trip: %s", s, h)
		}
	})
}

func TestSQLiteStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := OpenSQLite(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	k := Key{ID: "key_a", Name: "legal", Hash: HashSecret("x"), Policy: Policy{Profile: "private", RPM: 60, Budget: &Budget{USD: 50, Period: Month}},
		CreatedAt: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), ExpiresAt: &exp}
	if err := st.Create(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := st.Create(ctx, k); err == nil {
		t.Error("a duplicate id was stored")
	}
	if err := st.SetPolicy(ctx, "key_a", Policy{RPM: 5}); err != nil {
		t.Fatal(err)
	}
	rev := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	if err := st.Revoke(ctx, "key_a", rev); err != nil {
		t.Fatal(err)
	}
	if err := st.Revoke(ctx, "key_a", rev.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{st.Revoke(ctx, "nope", rev), st.SetPolicy(ctx, "nope", Policy{})} {
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown id: %v", err)
		}
	}
	if _, err := st.Get(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get unknown: %v", err)
	}
	st.Close()

	// Reopened (the migrations run again and change nothing), the key is
	// as it was left.
	st, err = OpenSQLite(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got, err := st.Get(ctx, "key_a")
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "legal" || got.Hash != k.Hash || got.Policy.RPM != 5 || got.Policy.Budget != nil || !got.CreatedAt.Equal(k.CreatedAt) ||
		got.ExpiresAt == nil || !got.ExpiresAt.Equal(exp) || got.RevokedAt == nil || !got.RevokedAt.Equal(rev) || got.Source != SourceStore {
		t.Errorf("after reopening: %+v", got)
	}
	var mode string
	if err := st.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode %q, %v", mode, err)
	}
	var sync int
	if err := st.db.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil || sync != 2 {
		t.Errorf("synchronous %d (2 is FULL), %v", sync, err)
	}
}

func TestRing(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	dir := t.TempDir()
	opened := 0
	staticSecret, _ := NewSecret()
	exp := now.Add(time.Hour)
	r, err := NewRing(ctx, RingOptions{Now: func() time.Time { return now },
		Open:   func(ctx context.Context) (Store, error) { opened++; return OpenSQLite(ctx, dir) },
		Static: []Key{{ID: "key_config_ci", Name: "ci", Hash: HashSecret(staticSecret), ExpiresAt: &exp}}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if !r.Enforcing() || opened != 0 {
		t.Fatalf("enforcing %v with a config key; store opened %d times before any write", r.Enforcing(), opened)
	}
	if id, err := r.Authenticate(staticSecret); err != nil || id.Name != "ci" {
		t.Fatalf("config key: %v %v", id, err)
	}
	k, secret, err := r.Create(ctx, "legal", Policy{Profile: "private"}, nil)
	if err != nil || opened != 1 {
		t.Fatalf("create: %v (opened %d)", err, opened)
	}
	if id, err := r.Authenticate(secret); err != nil || id.ID != k.ID || id.Policy.Profile != "private" {
		t.Fatalf("new key: %+v %v", id, err)
	}
	other, _ := NewSecret()
	for _, tc := range []struct{ secret, reason string }{{"", "missing"}, {"sk-proj-abc", "malformed"}, {other, "unknown"}} {
		_, err := r.Authenticate(tc.secret)
		var ae *AuthError
		if !errors.As(err, &ae) || ae.Reason != tc.reason {
			t.Errorf("Authenticate(%q) = %v, want %s", tc.secret, err, tc.reason)
		}
	}
	if err := r.Revoke(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Authenticate(secret); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Errorf("revoked key: %v", err)
	}
	if err := r.Revoke(ctx, "key_config_ci"); !errors.Is(err, ErrStatic) {
		t.Errorf("revoking a config key: %v", err)
	}
	now = now.Add(2 * time.Hour)
	if _, err := r.Authenticate(staticSecret); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("expired key: %v", err)
	}
	if _, _, err := r.Create(ctx, "bad name", Policy{}, nil); err == nil {
		t.Error("a name with a space was accepted")
	}
}

// TestRingRefusesUnknownProfiles: a key forced onto, or allowed, a
// profile the router does not have would fail every request; it is
// refused when it is made or changed, naming the profiles there are.
func TestRingRefusesUnknownProfiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	r, err := NewRing(ctx, RingOptions{Profiles: []string{"general", "private"},
		Open: func(ctx context.Context) (Store, error) { return OpenSQLite(ctx, dir) }})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, p := range []Policy{{Profile: "privat"}, {Profiles: []string{"general", "legal"}}} {
		_, _, err := r.Create(ctx, "legal", p, nil)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "general, private") {
			t.Errorf("Create with %+v: %v, want ErrInvalid naming the profiles", p, err)
		}
	}
	k, _, err := r.Create(ctx, "legal", Policy{Profile: "private"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SetPolicy(ctx, k.ID, Policy{Profile: "budget"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("SetPolicy to an unknown profile: %v", err)
	}
}

func TestEnforcing(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		mode   string
		static int
		want   bool
	}{{ModeAuto, 0, false}, {ModeAuto, 1, true}, {ModeKeys, 0, true}, {ModeNone, 1, false}} {
		var static []Key
		for i := range tc.static {
			static = append(static, Key{ID: "k", Name: "k", Hash: HashSecret(string(rune('a' + i)))})
		}
		r, err := NewRing(ctx, RingOptions{Mode: tc.mode, Static: static})
		if err != nil {
			t.Fatal(err)
		}
		if r.Enforcing() != tc.want {
			t.Errorf("mode %q with %d keys: enforcing %v", tc.mode, tc.static, !tc.want)
		}
	}
	if _, err := NewRing(ctx, RingOptions{Mode: "off"}); err == nil {
		t.Error("mode off accepted")
	}
}
