package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tiergate/tiergate/internal/keys"
	"github.com/tiergate/tiergate/internal/keys/admin"
)

const keysUsage = `usage: gateway keys create|list|show|revoke [flags]

  gateway keys create --name legal --profile private --rpm 60 --budget 50/month
  gateway keys list
  gateway keys show key_...
  gateway keys revoke key_...

They call the running gateway's admin API (--url, default $TIERGATE_URL or
http://127.0.0.1:8080) with the admin key in $TIERGATE_ADMIN_KEY.`

// runKeys is `gateway keys ...`: flags here, the calls in internal/keys/admin.
func runKeys(ctx context.Context, args []string, out io.Writer, getenv func(string) string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(out, keysUsage)
		return nil
	}
	cmd, args := args[0], args[1:]
	// An id may come before the flags: gateway keys show key_... --url ...
	var id string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		id, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("gateway keys "+cmd, flag.ContinueOnError)
	fs.SetOutput(out)
	defURL := getenv("TIERGATE_URL")
	if defURL == "" {
		defURL = "http://127.0.0.1:8080"
	}
	url := fs.String("url", defURL, "the gateway's `address`")
	var (
		name, profile, profiles, models, openness, deployment, budget, expires string
		rpm, tpm, concurrent                                                   int
	)
	if cmd == "create" {
		fs.StringVar(&name, "name", "", "the key's `name` (letters, digits, . _ -), required")
		fs.StringVar(&profile, "profile", "", "force this routing `profile`")
		fs.StringVar(&profiles, "profiles", "", "allow only these `profiles` (comma list)")
		fs.StringVar(&models, "models", "", "allow only these `models` (comma list of catalog ids)")
		fs.StringVar(&openness, "openness", "", "allow only this `openness` (comma list: open-source, open-weight, proprietary)")
		fs.StringVar(&deployment, "deployment", "", "allow only this `deployment` (comma list: local, self-hosted, saas)")
		fs.IntVar(&rpm, "rpm", 0, "requests per minute (0: no limit)")
		fs.IntVar(&tpm, "tpm", 0, "tokens per minute (0: no limit)")
		fs.IntVar(&concurrent, "max-concurrent", 0, "requests in flight at once (0: no limit)")
		fs.StringVar(&budget, "budget", "", "spend limit `USD/period`, such as 50/month or 5/day")
		fs.StringVar(&expires, "expires", "", "expiry: an RFC 3339 `time` or a duration from now such as 720h")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if id == "" {
		id = fs.Arg(0)
	}
	adminKey := getenv(admin.EnvAdminKey)
	if adminKey == "" {
		return errors.New("set " + admin.EnvAdminKey + " to the admin key the gateway was started with")
	}
	c := &admin.Client{BaseURL: *url, AdminKey: adminKey}
	now := time.Now()
	switch cmd {
	case "create":
		req := admin.CreateRequest{Name: name, Policy: keys.Policy{Profile: profile, Profiles: list(profiles), Models: list(models),
			Openness: list(openness), Deployment: list(deployment), RPM: rpm, TPM: tpm, MaxConcurrent: concurrent}}
		if name == "" {
			return errors.New("keys create: give --name")
		}
		if budget != "" {
			b, err := admin.ParseBudget(budget)
			if err != nil {
				return err
			}
			req.Policy.Budget = b
		}
		if expires != "" {
			t, err := time.Parse(time.RFC3339, expires)
			if err != nil {
				d, derr := time.ParseDuration(expires)
				if derr != nil || d <= 0 {
					return fmt.Errorf("--expires %q: give an RFC 3339 time (2027-01-01T00:00:00Z) or a duration (720h)", expires)
				}
				t = now.Add(d)
			}
			req.ExpiresAt = &t
		}
		k, err := c.Create(ctx, req)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "Created key %s (%s), policy: %s\n", k.ID, k.Name, admin.PolicySummary(k.Policy))
		fmt.Fprintf(out, "Its secret, shown this once (the gateway keeps only a hash):\n\n  %s\n\n", k.Key)
		fmt.Fprintf(out, "Use it as the app's API key: OPENAI_API_KEY=%s OPENAI_BASE_URL=%s/v1\n", k.Key, strings.TrimRight(*url, "/"))
		return nil
	case "list":
		ks, err := c.List(ctx)
		if err != nil {
			return err
		}
		return admin.WriteTable(out, ks, now)
	case "show", "revoke":
		if id == "" {
			return fmt.Errorf("keys %s: give the key's id (gateway keys list shows them)", cmd)
		}
		if cmd == "show" {
			sh, err := c.Show(ctx, id)
			if err != nil {
				return err
			}
			if err := admin.WriteTable(out, []keys.Key{sh.Key}, now); err != nil {
				return err
			}
			return admin.WriteUsage(out, sh)
		}
		k, err := c.Revoke(ctx, id)
		if err != nil {
			return err
		}
		if err := admin.WriteTable(out, []keys.Key{k}, now); err != nil {
			return err
		}
		fmt.Fprintf(out, "Revoked: requests with this key get 401 from now on.\n")
		return nil
	}
	return fmt.Errorf("keys: unknown command %q\n%s", cmd, keysUsage)
}

// list splits a comma list ("" is none).
func list(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
