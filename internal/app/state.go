package app

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/tiergate/tiergate/internal/config"
	"github.com/tiergate/tiergate/internal/keys"
	"github.com/tiergate/tiergate/internal/observe/metrics"
	"github.com/tiergate/tiergate/internal/router"
	"github.com/tiergate/tiergate/internal/state/redisstate"
	"github.com/tiergate/tiergate/internal/tiers"
)

// tiersReloadInterval is how often the published tiers are read again
// with a shared state store, whatever the announcements say.
const tiersReloadInterval = 10 * time.Second

// sharedReloadInterval is how often the breakers kept in the shared
// store are read again, whatever the announcements say.
const sharedReloadInterval = 10 * time.Second

// keysReloadInterval is how often the keys are read again from the key
// store with a shared state store, whatever the announcements say.
const keysReloadInterval = 30 * time.Second

// openState makes the shared state store when one is configured: the
// keys' limits are then shared by every replica (ro.Limiter), a key's
// change through this replica is announced to the others (ro.OnChange),
// and so are the routers' breakers, cool-downs and live estimates
// (shareHook, runState).
// Its health is the gauge tiergate_state_up{store="redis"} and part of
// /readyz.
func (a *App) openState(ro *keys.RingOptions) error {
	url := a.cfg.State.Redis // the default config reads it from TIERGATE_REDIS_URL
	if url == "" {
		return nil
	}
	s := a.cfg.State
	st, err := redisstate.New(redisstate.Options{URL: url, Timeout: s.Timeout, OnFailure: s.OnFailure, Replicas: s.Replicas,
		Spent: a.spentSince, Logger: a.log})
	if err != nil {
		return err
	}
	if err := metrics.RegisterState(a.o.Registry, "redis", st.Up); err != nil {
		st.Close()
		return fmt.Errorf("state metrics: %w", err)
	}
	ro.Limiter, ro.OnChange = st, st.Publish
	a.state = st
	a.log.Info("limits shared through redis", "on_failure", s.OnFailure, "timeout", s.Timeout, "replicas", cmp.Or(strconv.Itoa(s.Replicas), "counted"))
	return nil
}

// spentSince is a key's spend this budget period, from the ledger: the
// shared budget's starting figure when Redis has none.
func (a *App) spentSince(ctx context.Context, id string, _ time.Time) (float64, error) {
	u, err := a.keys.Usage(ctx, id)
	return u.SpendUSD, err
}

// runState runs the store's heartbeat and the keys' follower beside the
// server, until ctx is done.
func (a *App) runState(ctx context.Context, bg *sync.WaitGroup) {
	if a.state == nil {
		return
	}
	bg.Add(5)
	go func() {
		defer bg.Done()
		a.state.RunSharing(ctx, a.cfg.State.SnapshotInterval, a.snapshot)
	}()
	go func() {
		defer bg.Done()
		a.state.FollowShared(ctx, sharedReloadInterval, a.applyShared, a.applyEstimates)
	}()
	go func() {
		defer bg.Done()
		a.state.Run(ctx)
	}()
	go func() {
		defer bg.Done()
		a.state.Follow(ctx, keysReloadInterval, a.keys.Reload)
	}()
	go func() {
		defer bg.Done()
		a.state.FollowTiers(ctx, tiersReloadInterval, func(f *tiers.File) {
			a.applyTiers(f)
			a.log.Info("tiers loaded from redis (bench -publish)", "backends", len(f.Tiers), "generated_at", f.GeneratedAt)
		})
	}()
}

// shareHook is the routers' OnShare with a shared store (nil without):
// each breaker or cool-down this replica's traffic opens, starts or
// closes is queued for the others (never waiting), kept in the store
// under one field per breaker (a cool-down has its own, since a circuit
// may be open and cooling at once) until it expires; a close removes
// the open circuit's.
func (a *App) shareHook() func(router.Shared) {
	if a.state == nil {
		return nil
	}
	return func(ev router.Shared) {
		b, err := json.Marshal(ev)
		if err != nil {
			return
		}
		field, until := ev.Kind+":"+ev.Name, ev.Until
		switch ev.State {
		case router.Cooldown:
			field += ":cooldown"
		case router.Closed:
			until = time.Time{}
		}
		a.state.Share(field, until, b)
	}
}

// applyShared applies another replica's breaker or cool-down to the
// router serving new requests (a new generation carries it over).
func (a *App) applyShared(payload []byte) {
	var ev router.Shared
	if err := json.Unmarshal(payload, &ev); err != nil {
		a.log.Debug("a shared breaker event does not decode", "err", err)
		return
	}
	if a.Router().ApplyShared(ev) {
		a.log.Info("circuit breaker shared by another replica", "kind", ev.Kind, "name", ev.Name, "state", ev.State,
			"until", ev.Until, "reason", ev.Reason)
	}
}

// snapshot is this replica's live estimates for the others (nil: none).
func (a *App) snapshot() []byte {
	es := a.Router().Estimates()
	if len(es) == 0 {
		return nil
	}
	b, err := json.Marshal(es)
	if err != nil {
		return nil
	}
	return b
}

// applyEstimates merges another replica's snapshot into the router
// serving new requests.
func (a *App) applyEstimates(from string, payload []byte) {
	var es []router.Estimate
	if err := json.Unmarshal(payload, &es); err != nil {
		a.log.Debug("a shared estimates snapshot does not decode", "err", err)
		return
	}
	a.Router().ApplyEstimates(from, es)
}

func (a *App) closeState() {
	if a.state != nil {
		a.state.Close()
	}
}

// StateHealth is the shared state store's health (false: none is
// configured).
func (a *App) StateHealth() (redisstate.Health, bool) {
	if a.state == nil {
		return redisstate.Health{}, false
	}
	return a.state.Health(), true
}

// serveReady is /readyz with the shared state store's health beside the
// gateway's answer. While the store is down the gateway stays ready when
// the limits fail open (each replica enforces its share); with
// state.on_failure: closed it is not ready. The Postgres key store's
// health is beside it (key_store, postgres.go), and never makes the
// gateway unready.
func (a *App) serveReady(w http.ResponseWriter, r *http.Request) {
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	a.cur.Load().gw.ServeHTTP(rec, r)
	var body map[string]any
	if err := json.Unmarshal(rec.body.Bytes(), &body); err != nil {
		body = map[string]any{}
	}
	status := rec.status
	if a.state != nil {
		h := a.state.Health()
		if h.Error != "" {
			// /readyz is open to anyone: the store's address stays in the
			// gateway's log, which has the error whole.
			h.Error = "unreachable; the gateway's log has the error"
		}
		body["state"] = h
		if !h.Up && h.OnFailure == config.OnFailureClosed && status == http.StatusOK {
			status = http.StatusServiceUnavailable
			body["status"] = "shared state store down (state.on_failure: closed)"
		}
	}
	if a.pg != nil {
		body["key_store"] = a.keyStoreReady()
	}
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}

// recorder keeps a small response (the gateway's /readyz).
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(status int)      { r.status = status }
