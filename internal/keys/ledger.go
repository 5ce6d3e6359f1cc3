package keys

import (
	"context"
	"time"
)

// Entry is one settled request in the spend ledger: what a key spent on
// one model. Cost is in USD from the catalog's list prices.
type Entry struct {
	KeyID, KeyName  string
	Model, Provider string
	TokensIn        int
	TokensOut       int
	CostUSD         float64
	// Status is how the request settled: StatusOK, StatusError,
	// StatusCancelled or StatusCut.
	Status string
	At     time.Time
}

// Settled statuses.
const (
	StatusOK = "ok"
	// StatusError: every attempt failed before an answer reached the client.
	StatusError = "error"
	// StatusCancelled: the client went away.
	StatusCancelled = "cancelled"
	// StatusCut: a stream that had started ended with an error (the
	// upstream failed mid-stream, or the shutdown grace ran out).
	StatusCut = "cut"
)

// Usage is what a key spent since a time, read back from the ledger.
type Usage struct {
	Since     time.Time `json:"since"`
	Requests  int64     `json:"requests"`
	TokensIn  int64     `json:"tokens_in"`
	TokensOut int64     `json:"tokens_out"`
	SpendUSD  float64   `json:"spend_usd"`
}

// PeriodStart is the start (UTC) of the budget period holding t: its day
// for Day, else its month.
func PeriodStart(period string, t time.Time) time.Time {
	t = t.UTC()
	if period == Day {
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	}
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// Period is the budget period of p: the budget's, else Month.
func (p Policy) Period() string {
	if p.Budget != nil && p.Budget.Period != "" {
		return p.Budget.Period
	}
	return Month
}

// ledgerBatch bounds the entries one transaction writes.
const ledgerBatch = 512

// Record adds e to the spend ledger without waiting for the database: a
// buffered channel feeds one writer goroutine (started on the first
// Record) that commits whatever has arrived in one transaction as soon as
// it can, gathering for ledgerWindow what settles meanwhile, so a crash
// loses at most the requests in flight and the last few milliseconds. After Close, entries are dropped.
func (r *Ring) Record(e Entry) {
	r.ledgerOnce.Do(r.startLedger)
	select {
	case r.ledger <- e:
	case <-r.ledgerQuit:
	}
}

func (r *Ring) startLedger() {
	r.ledgerDone = make(chan struct{})
	go r.writeLedger()
}

// writeLedger is the ledger's one writer: it blocks for an entry, takes
// what else is queued (up to ledgerBatch) and appends it in one
// transaction; a failed write is retried; on Close it writes what is left
// and returns.
func (r *Ring) writeLedger() {
	defer close(r.ledgerDone)
	var batch []Entry
	last := func() {
		if batch = append(batch, drain(r.ledger, -1)...); len(batch) > 0 {
			if err := r.appendLedger(batch); err != nil {
				r.log.Error("spend ledger: entries lost at shutdown", "entries", len(batch), "err", err)
			}
		}
	}
	for {
		if len(batch) == 0 {
			select {
			case e := <-r.ledger:
				batch = append(batch, e)
			case <-r.ledgerQuit:
				last()
				return
			}
		}
		batch = r.gather(batch)
		err := r.appendLedger(batch)
		if err == nil {
			batch = batch[:0]
			continue
		}
		r.log.Error("spend ledger: write failed; retrying", "entries", len(batch), "err", err)
		select {
		case <-time.After(100 * time.Millisecond):
		case <-r.ledgerQuit:
			last()
			return
		}
	}
}

// ledgerWindow is how long the writer waits, after the first entry of a
// batch, for more to join it: a commit (an fsync, and SQLite's work on
// the gateway's own cores) then serves every request that settled in
// that time instead of one, which on a busy gateway is the difference
// between hundreds of commits a second and thousands. A crash loses at
// most the requests in flight, this window and the commit under way.
const ledgerWindow = 5 * time.Millisecond

// gather adds to batch what is queued and what arrives within
// ledgerWindow, up to ledgerBatch entries in all.
func (r *Ring) gather(batch []Entry) []Entry {
	batch = append(batch, drain(r.ledger, ledgerBatch-len(batch))...)
	if len(batch) >= ledgerBatch {
		return batch
	}
	t := time.NewTimer(ledgerWindow)
	defer t.Stop()
	for len(batch) < ledgerBatch {
		select {
		case e := <-r.ledger:
			batch = append(batch, e)
		case <-t.C:
			return batch
		case <-r.ledgerQuit:
			return batch
		}
	}
	return batch
}

// drain takes up to n queued entries (n < 0: all) without waiting.
func drain(ch chan Entry, n int) []Entry {
	var out []Entry
	for n < 0 || len(out) < n {
		select {
		case e := <-ch:
			out = append(out, e)
		default:
			return out
		}
	}
	return out
}
func (r *Ring) appendLedger(batch []Entry) error {
	if len(batch) == 0 {
		return nil
	}
	r.mu.Lock()
	st, err := r.storeLocked(context.Background())
	r.mu.Unlock()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return st.AppendLedger(ctx, batch)
}

// Usage is what key id spent this budget period (its policy's, else this
// month), from the ledger: zero when nothing was recorded.
func (r *Ring) Usage(ctx context.Context, id string) (Usage, error) {
	k, err := r.Get(id)
	if err != nil {
		return Usage{}, err
	}
	since := PeriodStart(k.Policy.Period(), r.now())
	r.mu.Lock()
	st := r.store
	r.mu.Unlock()
	if st == nil {
		return Usage{Since: since}, nil
	}
	return st.Usage(ctx, id, since)
}
