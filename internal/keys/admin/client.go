package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tiergate/tiergate/internal/keys"
)

// Client calls a gateway's admin API.
type Client struct {
	// BaseURL is the gateway's address (http://127.0.0.1:8080).
	BaseURL string
	// AdminKey is the gateway's TIERGATE_ADMIN_KEY.
	AdminKey string
	// HTTP is the client to use (nil: http.DefaultClient).
	HTTP *http.Client
}

// APIError is an admin API error answer.
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.BaseURL, "/")+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+c.AdminKey)
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var e errorBody
		if json.Unmarshal(b, &e) != nil || e.Error.Message == "" {
			return &APIError{Status: resp.StatusCode, Message: strings.TrimSpace(string(b))}
		}
		ae := &APIError{Status: resp.StatusCode, Message: e.Error.Message}
		if e.Error.Code != nil {
			ae.Code = *e.Error.Code
		}
		return ae
	}
	return json.Unmarshal(b, out)
}

// Create makes a key; the answer holds its secret, once.
func (c *Client) Create(ctx context.Context, req CreateRequest) (Created, error) {
	var out Created
	return out, c.do(ctx, http.MethodPost, "/admin/keys", req, &out)
}

// List returns every key.
func (c *Client) List(ctx context.Context) ([]keys.Key, error) {
	var out List
	return out.Data, c.do(ctx, http.MethodGet, "/admin/keys", nil, &out)
}

// Get returns one key.
func (c *Client) Get(ctx context.Context, id string) (keys.Key, error) {
	var out keys.Key
	return out, c.do(ctx, http.MethodGet, "/admin/keys/"+url.PathEscape(id), nil, &out)
}

// SetPolicy replaces a key's policy.
func (c *Client) SetPolicy(ctx context.Context, id string, p keys.Policy) (keys.Key, error) {
	var out keys.Key
	return out, c.do(ctx, http.MethodPatch, "/admin/keys/"+url.PathEscape(id), PatchRequest{Policy: &p}, &out)
}

// Revoke revokes a key.
func (c *Client) Revoke(ctx context.Context, id string) (keys.Key, error) {
	var out keys.Key
	return out, c.do(ctx, http.MethodDelete, "/admin/keys/"+url.PathEscape(id), nil, &out)
}

// ParseBudget reads a budget as the CLI writes it: USD/period, such as
// 50/month or 2.5/day.
func ParseBudget(s string) (*keys.Budget, error) {
	amount, period, ok := strings.Cut(s, "/")
	usd, err := strconv.ParseFloat(amount, 64)
	if !ok || err != nil {
		return nil, fmt.Errorf("budget %q: write USD/period, such as 50/month or 5/day", s)
	}
	b := &keys.Budget{USD: usd, Period: period}
	if err := (keys.Policy{Budget: b}).Validate(); err != nil {
		return nil, fmt.Errorf("budget %q: %v", s, strings.TrimPrefix(err.Error(), "policy: "))
	}
	return b, nil
}

// Status is a key's state in words: active, revoked or expired.
func Status(k keys.Key, now time.Time) string {
	switch {
	case k.RevokedAt != nil:
		return "revoked"
	case k.ExpiresAt != nil && !now.Before(*k.ExpiresAt):
		return "expired"
	}
	return "active"
}

// PolicySummary writes a policy in one short line (limits first).
func PolicySummary(p keys.Policy) string {
	var parts []string
	if p.Profile != "" {
		parts = append(parts, "profile="+p.Profile)
	}
	for name, list := range map[string][]string{"profiles": p.Profiles, "models": p.Models, "openness": p.Openness, "deployment": p.Deployment} {
		if len(list) > 0 {
			parts = append(parts, name+"="+strings.Join(list, ","))
		}
	}
	if p.RPM > 0 {
		parts = append(parts, "rpm="+strconv.Itoa(p.RPM))
	}
	if p.TPM > 0 {
		parts = append(parts, "tpm="+strconv.Itoa(p.TPM))
	}
	if p.MaxConcurrent > 0 {
		parts = append(parts, "concurrent="+strconv.Itoa(p.MaxConcurrent))
	}
	if b := p.Budget; b != nil {
		parts = append(parts, "budget=$"+strconv.FormatFloat(b.USD, 'f', -1, 64)+"/"+b.Period)
	}
	if len(parts) == 0 {
		return "-"
	}
	// Map order is random: sort the list fields' part for a stable line.
	return strings.Join(sortedParts(parts), " ")
}

func sortedParts(parts []string) []string {
	order := []string{"profile=", "profiles=", "models=", "openness=", "deployment=", "rpm=", "tpm=", "concurrent=", "budget="}
	out := make([]string, 0, len(parts))
	for _, pre := range order {
		for _, p := range parts {
			if strings.HasPrefix(p, pre) {
				out = append(out, p)
			}
		}
	}
	return out
}

// WriteTable writes keys as a table: id, name, status, source, created,
// expires, policy.
func WriteTable(w io.Writer, ks []keys.Key, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tSTATUS\tSOURCE\tCREATED\tEXPIRES\tPOLICY")
	for _, k := range ks {
		created, expires := "-", "never"
		if !k.CreatedAt.IsZero() {
			created = k.CreatedAt.UTC().Format("2006-01-02 15:04")
		}
		if k.ExpiresAt != nil {
			expires = k.ExpiresAt.UTC().Format("2006-01-02 15:04")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, Status(k, now), k.Source, created, expires, PolicySummary(k.Policy))
	}
	return tw.Flush()
}

// Show returns a key with its usage and spend this period.
func (c *Client) Show(ctx context.Context, id string) (Shown, error) {
	var out Shown
	return out, c.do(ctx, http.MethodGet, "/admin/keys/"+url.PathEscape(id), nil, &out)
}

// WriteUsage writes what a shown key used this period, with its budget
// and limits beside: requests, tokens in and out, and spend.
func WriteUsage(w io.Writer, sh Shown) error {
	u, p := sh.Usage, sh.Policy
	if u.Since.IsZero() {
		_, err := fmt.Fprintln(w, "\nNo usage recorded yet.")
		return err
	}
	fmt.Fprintf(w, "\nSince %s: %d requests, %d tokens in, %d tokens out, $%.4f spent",
		u.Since.UTC().Format("2006-01-02 15:04 UTC"), u.Requests, u.TokensIn, u.TokensOut, u.SpendUSD)
	if b := p.Budget; b != nil && b.USD > 0 {
		per := "monthly"
		if b.Period == keys.Day {
			per = "daily"
		}
		fmt.Fprintf(w, " of a $%.2f %s budget (%.0f%%)", b.USD, per, 100*u.SpendUSD/b.USD)
	}
	_, err := fmt.Fprintln(w, ".")
	return err
}
