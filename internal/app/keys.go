package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/tiergate/tiergate/internal/keys"
	"github.com/tiergate/tiergate/internal/keys/admin"
	"github.com/tiergate/tiergate/internal/observe/metrics"
)

// DataDir is where the gateway keeps its database: server.data_dir, else
// $XDG_STATE_HOME/tiergate, else ~/.local/state/tiergate (read through
// getenv), else ./data.
func DataDir(dataDir string, getenv func(string) string) string {
	switch {
	case dataDir != "":
		return dataDir
	case getenv("XDG_STATE_HOME") != "":
		return filepath.Join(getenv("XDG_STATE_HOME"), "tiergate")
	case getenv("HOME") != "":
		return filepath.Join(getenv("HOME"), ".local", "state", "tiergate")
	}
	return "data"
}

// openKeys loads the gateway keys (the config's and the database's, when
// it exists; it is made with the first key) and applies the default that
// cannot be left open by mistake: without keys, only a loopback address
// serves open, unless auth.mode says none.
func (a *App) openKeys(ctx context.Context) error {
	dir := DataDir(a.cfg.Server.DataDir, a.o.Getenv)
	open := func(ctx context.Context) (keys.Store, error) { return keys.OpenSQLite(ctx, dir) }
	ro := keys.RingOptions{Mode: a.cfg.Auth.Mode, Open: open, Profiles: slices.Sorted(maps.Keys(a.cfg.Profiles)), Logger: a.log}
	for _, k := range a.cfg.Auth.Keys {
		ro.Static = append(ro.Static, k.Parsed)
	}
	if err := a.openState(&ro); err != nil {
		return err
	}
	// Replicas sharing state share the key store too: it is opened now,
	// so that keys another replica makes are seen. With state.postgres
	// it is Postgres (postgres.go), else SQLite under the data dir.
	if pg, err := a.openPostgres(ctx); err != nil {
		return err
	} else if pg != nil {
		ro.Store = pg
	} else if _, err := os.Stat(filepath.Join(dir, keys.DBFile)); err == nil || a.state != nil {
		st, err := open(ctx)
		if err != nil {
			return fmt.Errorf("gateway keys: %w (server.data_dir)", err)
		}
		ro.Store = st
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("gateway keys: %w (server.data_dir)", err)
	}
	ring, err := keys.NewRing(ctx, ro)
	if err != nil {
		if ro.Store != nil {
			ro.Store.Close()
		}
		return fmt.Errorf("gateway keys: %w", err)
	}
	a.keys = ring
	a.admin = admin.Handler(ring, a.o.Getenv(admin.EnvAdminKey))
	addr := a.cfg.Server.Addr
	if a.o.Listener != nil {
		addr = a.o.Listener.Addr().String()
	}
	switch {
	case ring.Enforcing():
		a.log.Info("gateway keys required", "keys", ring.Len(), "mode", modeName(ring.Mode()), "data_dir", dir)
	case ring.Mode() == keys.ModeNone:
		a.log.Warn("auth.mode is none: the gateway serves anyone who reaches it, without a key", "addr", addr)
	case loopback(addr):
		a.log.Warn("no gateway keys: serving open on a loopback address; create one (gateway keys create) to require keys", "addr", addr)
	default:
		ring.Close()
		return fmt.Errorf("refusing to serve %s without gateway keys: anyone who reaches it would spend the providers' keys. "+
			"Add a key (gateway keys create against a loopback gateway on the same server.data_dir %s, or under auth.keys in the config), "+
			"set auth.mode: keys (TIERGATE_AUTH_MODE=keys) to start closed and add keys through the admin API, "+
			"or set auth.mode: none (TIERGATE_AUTH_MODE=none) to serve without authentication on purpose", addr, dir)
	}
	return nil
}

func modeName(m string) string {
	if m == keys.ModeAuto {
		return "auto"
	}
	return m
}

// loopback says whether addr (host:port) is reachable from this machine
// only: localhost or a loopback IP. An empty host, 0.0.0.0, :: or any
// other name is not.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Keys is the gateway's key ring (the admin API and tests change keys
// through it).
func (a *App) Keys() *keys.Ring { return a.keys }

// keyBudgets is the metrics' view of the keys' budgets (usable keys with
// one), read when Prometheus scrapes: what each spent this period as its
// budget counts it.
func (a *App) keyBudgets() []metrics.KeyBudget {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	now := time.Now()
	var out []metrics.KeyBudget
	for _, k := range a.keys.List() {
		b := k.Policy.Budget
		if b == nil || b.USD <= 0 || k.RevokedAt != nil || (k.ExpiresAt != nil && !now.Before(*k.ExpiresAt)) {
			continue
		}
		spent, err := a.keys.Spent(ctx, k)
		if err != nil {
			a.log.Warn("metrics: reading a key's spend", "key_id", k.ID, "err", err)
			continue
		}
		out = append(out, metrics.KeyBudget{Name: k.Name, BudgetUSD: b.USD, SpentUSD: spent})
	}
	return out
}
