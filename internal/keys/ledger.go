package keys

import (
	"context"
	"log/slog"
	"strconv"
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
	// ID is the entry's unique id (Record sets it when empty): a commit
	// retried after its answer was lost writes the row once.
	ID string
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

// DefaultLedgerQueue is how many settled entries the spend ledger keeps,
// by default, while its store cannot take them (RingOptions.LedgerQueue):
// about 16 MiB, a few minutes of a busy gateway's keyed requests.
const DefaultLedgerQueue = 65536

// ledgerCloseWait is how long Close keeps trying to write what the queue
// still holds when the store does not take it at once.
const ledgerCloseWait = 5 * time.Second

// Record adds e to the spend ledger without waiting for the database: a
// buffered channel feeds one writer goroutine (started on the first
// Record) that commits whatever has arrived in one transaction as soon as
// it can, gathering for ledgerWindow what settles meanwhile. An entry is
// settled once its transaction commits (the store's AppendLedger returns:
// durable, as SQLite's synchronous=FULL and Postgres's synchronous_commit
// make it); a crash loses at most the requests in flight, the last few
// milliseconds, and what the queue held while the store was down.
//
// While the store fails (a Postgres restart), the writer keeps the entries
// it could not commit, in the order they settled, retries them with a
// backoff up to a second and writes them, oldest first, once the store
// takes them again; each keeps the ID it got here, so a commit whose
// answer was lost is not written twice. Past RingOptions.LedgerQueue
// waiting entries the newest are dropped (logged with their count and
// cost): memory stays bounded and requests keep being answered; the
// budgets' limits, which the limiter holds, are not affected. After Close,
// entries are dropped.
func (r *Ring) Record(e Entry) {
	r.ledgerOnce.Do(r.startLedger)
	if e.ID == "" {
		var buf [40]byte // one allocation: the string
		e.ID = string(strconv.AppendUint(append(buf[:0], r.ledgerID...), r.ledgerSeq.Add(1), 36))
	}
	select {
	case r.ledger <- e:
	case <-r.ledgerQuit:
	}
}

func (r *Ring) startLedger() {
	r.ledgerDone = make(chan struct{})
	go r.writeLedger()
}

// ledgerQueue is the writer's entries not yet committed, oldest first,
// at most max of them; what does not fit is counted as dropped.
type ledgerQueue struct {
	es         []Entry
	max        int
	dropped    int
	droppedUSD float64
	log        *slog.Logger
}

func (q *ledgerQueue) add(e Entry) {
	if len(q.es) >= q.max {
		if q.dropped == 0 {
			q.log.Error("spend ledger: the queue is full; the newest entries are dropped until the store takes them again", "queue", q.max)
		}
		q.dropped++
		q.droppedUSD += e.CostUSD
		return
	}
	q.es = append(q.es, e)
}

// head is the next batch to commit.
func (q *ledgerQueue) head() []Entry { return q.es[:min(len(q.es), ledgerBatch)] }

// pop removes the n oldest entries (committed).
func (q *ledgerQueue) pop(n int) {
	rest := copy(q.es, q.es[n:])
	clear(q.es[rest:])
	q.es = q.es[:rest]
}

// writeLedger is the ledger's one writer: it blocks for an entry, takes
// what else is queued (up to ledgerBatch) and appends it in one
// transaction; a failed write keeps its entries at the head of the queue
// and is retried; on Close it writes what is left and returns.
func (r *Ring) writeLedger() {
	defer close(r.ledgerDone)
	q := &ledgerQueue{max: r.ledgerMax, log: r.log}
	var backoff time.Duration
	failures := 0
	for {
		if len(q.es) == 0 {
			select {
			case e := <-r.ledger:
				q.add(e)
			case <-r.ledgerQuit:
				r.closeLedger(q)
				return
			}
		}
		if backoff == 0 {
			r.gather(q)
		}
		batch := q.head()
		if err := r.appendLedger(batch); err != nil {
			if failures == 0 {
				r.log.Error("spend ledger: write failed; keeping the entries and retrying them in order", "queued", len(q.es), "err", err)
			}
			failures++
			backoff = min(max(2*backoff, 50*time.Millisecond), time.Second)
			if r.waitLedger(q, backoff) {
				r.closeLedger(q)
				return
			}
			continue
		}
		q.pop(len(batch))
		if failures > 0 {
			r.log.Info("spend ledger: written again", "failed_tries", failures, "still_queued", len(q.es))
			failures, backoff = 0, 0
		}
		if q.dropped > 0 {
			r.log.Error("spend ledger: entries were dropped while the store could not take them (the queue was full)", "dropped", q.dropped, "dropped_usd", q.droppedUSD, "queue", q.max)
			q.dropped, q.droppedUSD = 0, 0
		}
	}
}

// waitLedger waits d, queueing what settles meanwhile; true on Close.
func (r *Ring) waitLedger(q *ledgerQueue, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case e := <-r.ledger:
			q.add(e)
		case <-t.C:
			return false
		case <-r.ledgerQuit:
			return true
		}
	}
}

// closeLedger writes what is left at Close, trying for up to
// ledgerCloseWait while the store fails.
func (r *Ring) closeLedger(q *ledgerQueue) {
	for _, e := range drain(r.ledger, -1) {
		q.add(e)
	}
	deadline := time.Now().Add(ledgerCloseWait)
	for len(q.es) > 0 {
		batch := q.head()
		err := r.appendLedger(batch)
		if err == nil {
			q.pop(len(batch))
			continue
		}
		if time.Now().After(deadline) {
			r.log.Error("spend ledger: entries lost at shutdown", "entries", len(q.es), "err", err)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	if q.dropped > 0 {
		r.log.Error("spend ledger: entries were dropped while the store could not take them (the queue was full)", "dropped", q.dropped, "dropped_usd", q.droppedUSD, "queue", q.max)
	}
}

// ledgerWindow is how long the writer waits, after the first entry of a
// batch, for more to join it: a commit (an fsync, and SQLite's work on
// the gateway's own cores) then serves every request that settled in
// that time instead of one, which on a busy gateway is the difference
// between hundreds of commits a second and thousands. A crash loses at
// most the requests in flight, this window and the commit under way.
const ledgerWindow = 5 * time.Millisecond

// gather adds to q what is queued and what arrives within ledgerWindow,
// until q holds a batch (ledgerBatch entries).
func (r *Ring) gather(q *ledgerQueue) {
	for _, e := range drain(r.ledger, ledgerBatch-len(q.es)) {
		q.add(e)
	}
	if len(q.es) >= ledgerBatch {
		return
	}
	t := time.NewTimer(ledgerWindow)
	defer t.Stop()
	for len(q.es) < ledgerBatch {
		select {
		case e := <-r.ledger:
			q.add(e)
		case <-t.C:
			return
		case <-r.ledgerQuit:
			return
		}
	}
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
