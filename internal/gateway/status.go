package gateway

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tiergate/tiergate/internal/catalog"
	"github.com/tiergate/tiergate/internal/observe/metrics"
	"github.com/tiergate/tiergate/internal/observe/statuspage"
	"github.com/tiergate/tiergate/internal/providers"
	"github.com/tiergate/tiergate/internal/router"
)

// The status page's traffic window: statSlots slots of statSlot each.
const (
	statSlot  = 10 * time.Second
	statSlots = 30
)

// liveStats is what the gateway saw of each backend's attempts, for the
// status page: a ring of per-slot request and error counts over the last
// five minutes, the spend since it started, when a live TTFT was last
// measured and the last failure and Retry-After. Its zero value is ready;
// observe updates it with atomics only (one map load, one add per
// attempt), the page reads it.
type liveStats struct {
	once    sync.Once
	sinceNs atomic.Int64
	m       sync.Map // *catalog.Model -> *backendStats
}

type backendStats struct {
	// Each slot holds its epoch (Unix time / statSlot) in the high 32
	// bits and its count in the low 32.
	reqs, errs [statSlots]atomic.Uint64
	costNano   atomic.Int64 // USD × 1e9
	// Unix nanoseconds: the last success that measured a TTFT, the last
	// failure of the backend, the last failure of its provider, the end
	// of the last Retry-After it sent (not a 503's: that one cools the
	// provider), with that answer's status.
	liveNs, failNs, provFailNs, retryNs atomic.Int64
	retryStatus                         atomic.Int32
}

func (ls *liveStats) start(now time.Time) {
	ls.once.Do(func() { ls.sinceNs.Store(now.UnixNano()) })
}

func (ls *liveStats) of(m *catalog.Model) *backendStats {
	if v, ok := ls.m.Load(m); ok {
		return v.(*backendStats)
	}
	v, _ := ls.m.LoadOrStore(m, new(backendStats))
	return v.(*backendStats)
}

// bump adds one to the slot of epoch e, restarting a slot left from an
// older epoch.
func bump(slot *atomic.Uint64, e uint64) {
	if v := slot.Add(1); v>>32 == e {
		return
	}
	for {
		v := slot.Load()
		switch {
		case v>>32 == e:
			slot.Add(1)
			return
		case v>>32 > e:
			return // a later slot already: this one is out of the window
		case slot.CompareAndSwap(v, e<<32|1):
			return
		}
	}
}

// window sums the slots of the epochs within the window ending at e.
func window(slots *[statSlots]atomic.Uint64, e uint64) int64 {
	var n int64
	for i := range slots {
		v := slots[i].Load()
		if ve := v >> 32; ve <= e && e-ve < statSlots {
			n += int64(uint32(v))
		}
	}
	return n
}

func epochOf(t time.Time) uint64 { return uint64(t.UnixNano() / int64(statSlot)) }

// failure says whether err counts against the backend on the page: not
// a client's cancellation, not an invalid request (as the dashboard's
// error ratio).
func failure(errType string) bool {
	return errType != "" && errType != "canceled" && errType != "invalid_request" && errType != "not_found"
}

// record notes one attempt on c.
func (ls *liveStats) record(c router.Candidate, res *providers.Result, err error, errType string, now time.Time) {
	if c.Model == nil {
		return
	}
	ls.start(now)
	b := ls.of(c.Model)
	e := epochOf(now)
	bump(&b.reqs[e%statSlots], e)
	if res != nil && res.Usage != nil {
		if cost := metrics.Cost(c.Model.Price, max(res.Usage.PromptTokens, 0), max(res.Usage.CompletionTokens, 0)); cost > 0 {
			b.costNano.Add(int64(math.Round(cost * 1e9)))
		}
	}
	if err == nil {
		if res != nil && !res.Timing.FirstToken.IsZero() {
			b.liveNs.Store(now.UnixNano())
		}
		return
	}
	if !failure(errType) {
		return
	}
	bump(&b.errs[e%statSlots], e)
	b.failNs.Store(now.UnixNano())
	var pe *providers.Error
	if errors.As(err, &pe) && pe.RetryAfter > 0 && pe.Status != http.StatusServiceUnavailable {
		b.retryNs.Store(now.Add(pe.RetryAfter).UnixNano())
		b.retryStatus.Store(int32(pe.Status))
	}
	if router.ProviderFault(err) {
		b.provFailNs.Store(now.UnixNano())
	}
}

// byID indexes the backends' stats by catalog id and provider.
func (ls *liveStats) byID() map[[2]string]*backendStats {
	out := map[[2]string]*backendStats{}
	ls.m.Range(func(k, v any) bool {
		m := k.(*catalog.Model)
		out[[2]string{m.ID, m.Provider}] = v.(*backendStats)
		return true
	})
	return out
}

func nsTime(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// statusSnapshot feeds the status page: each backend's state from the
// router (Status, Providers) with what the gateway itself saw of its
// attempts (liveStats), and each gateway key's use.
//
// The router reports breaker states but not when an open circuit lets a
// trial through nor a backend's Retry-After: the page's "until" is the
// gateway's last failure of the backend (or provider) plus open_for,
// and the end of the last Retry-After the backend sent, which is what
// the router's own bookkeeping goes by.
func (s *Server) statusSnapshot() statuspage.Snapshot {
	now := time.Now()
	s.stats.start(now)
	cfg := s.router.Config()
	st := s.router.Status()
	stats := s.stats.byID()
	e := epochOf(now)
	provLastFail := map[string]int64{}
	for k, b := range stats {
		provLastFail[k[1]] = max(provLastFail[k[1]], b.provFailNs.Load())
	}
	prov := map[string]router.ProviderStatus{}
	for _, p := range s.router.Providers() {
		prov[p.Provider] = p
	}
	cat := s.set.Catalog()
	sn := statuspage.Snapshot{WindowSeconds: int(statSlot / time.Second * statSlots), SpendSince: nsTime(s.stats.sinceNs.Load())}
	sn.Backends = make([]statuspage.Backend, 0, len(st))
	for _, b := range st {
		sb := statuspage.Backend{Model: b.Model, Provider: b.Provider, Tier: string(b.Tier), TierSource: b.TierSource,
			State: b.Breaker, LastError: b.LastError, TTFTMs: float64(b.TTFT) / 1e6, TokensPerSecond: b.TokensPerS,
			FiguresSource: b.TierSource, MeasuredAt: b.MeasuredAt}
		if m, ok := cat.Get(b.Model); ok {
			sb.Openness, sb.Deployment = string(m.Openness), string(m.Deployment)
		}
		if p, ok := prov[b.Provider]; ok {
			sb.ProviderState, sb.ProviderLastError = p.Breaker, p.LastError
			if p.CoolingFor > 0 {
				sb.ProviderCooldownUntil = now.Add(p.CoolingFor)
			}
			if p.Breaker == router.Open {
				if at := nsTime(provLastFail[b.Provider]).Add(cfg.ProviderBreaker.OpenFor); at.After(now) && provLastFail[b.Provider] != 0 {
					sb.ProviderOpenUntil = at
				}
			}
		}
		if bs := stats[[2]string{b.Model, b.Provider}]; bs != nil {
			sb.Requests, sb.Errors = window(&bs.reqs, e), window(&bs.errs, e)
			sb.Failures = int(sb.Errors)
			sb.SpendUSD = float64(bs.costNano.Load()) / 1e9
			if until := bs.retryNs.Load(); until > now.UnixNano() {
				sb.CooldownUntil = nsTime(until)
				sb.CooldownReason = strconv.Itoa(int(bs.retryStatus.Load())) + " Retry-After"
			}
			if fail := bs.failNs.Load(); b.Breaker == router.Open && fail != 0 {
				if at := nsTime(fail).Add(cfg.Breaker.OpenFor); at.After(now) {
					sb.OpenUntil = at
				}
			}
			// The router keeps MeasuredAt for the tier, not for the
			// figures: live ones are as recent as the last success that
			// measured them (unless a tiers file loaded since).
			if live := nsTime(bs.liveNs.Load()); !live.IsZero() && b.TTFT > 0 && (b.TierSource != router.SourceBench || live.After(b.MeasuredAt)) {
				sb.FiguresSource, sb.MeasuredAt = router.SourceLive, live
			}
		}
		sn.Backends = append(sn.Backends, sb)
	}
	for _, d := range s.set.Disabled() {
		sn.Disabled = append(sn.Disabled, statuspage.DisabledProvider{Name: d.Name, Why: d.Why})
	}
	sn.Keys = s.keyStatus(now)
	return sn
}

// keyStatus is every usable gateway key's use: its ledger this budget
// period and its limiter's windows now (id and name only, never a secret).
func (s *Server) keyStatus(now time.Time) []statuspage.Key {
	if s.keys == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var out []statuspage.Key
	for _, k := range s.keys.List() {
		if k.RevokedAt != nil || (k.ExpiresAt != nil && !now.Before(*k.ExpiresAt)) {
			continue
		}
		sk := statuspage.Key{ID: k.ID, Name: k.Name, RPM: k.Policy.RPM, TPM: k.Policy.TPM, MaxConcurrent: k.Policy.MaxConcurrent}
		if u, err := s.keys.Usage(ctx, k.ID); err == nil {
			sk.Since, sk.Requests, sk.TokensIn, sk.TokensOut, sk.SpendUSD = u.Since, u.Requests, u.TokensIn, u.TokensOut, u.SpendUSD
		} else {
			s.log.Warn("status page: reading a key's usage", "key_id", k.ID, "err", err)
		}
		if u, ok := s.keys.Use(k); ok {
			sk.RPMUsed, sk.TPMUsed, sk.InFlight = u.Requests, u.Tokens, u.InFlight
			if u.Loaded {
				sk.SpendUSD = u.SpentUSD // what the budget counts: settled and reserved
			}
			sk.PeriodEnd = u.PeriodEnd
		}
		if b := k.Policy.Budget; b != nil {
			sk.BudgetUSD, sk.Period = b.USD, k.Policy.Period()
		}
		out = append(out, sk)
	}
	return out
}
