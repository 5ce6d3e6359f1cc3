package keys

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tiergate/tiergate/internal/testing/syncbuf"
)

// flakyStore is a Store whose ledger fails while down is set, and whose
// every third failure commits first (the answer lost on the way back);
// like the real stores it writes an entry ID once.
type flakyStore struct {
	Store
	mu    sync.Mutex
	down  bool
	calls int
	rows  []Entry
	ids   map[string]bool
}

func (s *flakyStore) AppendLedger(_ context.Context, es []Entry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	commit := !s.down || s.calls%3 == 0
	if commit {
		for _, e := range es {
			if !s.ids[e.ID] {
				s.ids[e.ID] = true
				s.rows = append(s.rows, e)
			}
		}
	}
	if s.down {
		return errors.New("connection refused")
	}
	return nil
}

func (s *flakyStore) List(context.Context) ([]Key, error) { return nil, nil }
func (s *flakyStore) Close() error                        { return nil }

func (s *flakyStore) set(down bool) {
	s.mu.Lock()
	s.down = down
	s.mu.Unlock()
}

// TestLedgerKeepsWhatFailed: entries recorded while the store fails are
// kept and written, in the order they settled and each once, when it
// takes them again.
func TestLedgerKeepsWhatFailed(t *testing.T) {
	defer goleak.VerifyNone(t)
	st := &flakyStore{ids: map[string]bool{}, down: true}
	r, err := NewRing(context.Background(), RingOptions{Store: st, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	const n = 3000
	for i := range n {
		r.Record(Entry{KeyID: "k", TokensIn: i, At: time.Now()})
		if i == n/2 {
			for deadline := time.Now().Add(10 * time.Second); len(r.ledger) > 0 && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
		}
	}
	// A few retries fail (one in three committing unacknowledged).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		st.mu.Lock()
		calls := st.calls
		st.mu.Unlock()
		if calls >= 5 || time.Now().After(deadline) {
			break
		}
	}
	st.set(false)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if len(st.rows) != n {
		t.Fatalf("%d rows written, want %d", len(st.rows), n)
	}
	for i, e := range st.rows {
		if e.TokensIn != i {
			t.Fatalf("row %d is entry %d: out of order", i, e.TokensIn)
		}
	}
}

// TestLedgerQueueBound: past RingOptions.LedgerQueue waiting entries the
// newest are dropped (said in the log, with their count), and the oldest
// are written once the store is back.
func TestLedgerQueueBound(t *testing.T) {
	defer goleak.VerifyNone(t)
	st := &flakyStore{ids: map[string]bool{}, down: true}
	var log syncbuf.Buffer
	r, err := NewRing(context.Background(), RingOptions{Store: st, LedgerQueue: 10, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 25 {
		r.Record(Entry{KeyID: "k", TokensIn: i, CostUSD: 1, At: time.Now()})
	}
	// Every entry has left the channel: 10 are queued, 15 dropped.
	for deadline := time.Now().Add(10 * time.Second); len(r.ledger) > 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the writer does not drain the channel while the store is down")
		}
	}
	st.set(false)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if len(st.rows) != 10 || st.rows[0].TokensIn != 0 || st.rows[9].TokensIn != 9 {
		t.Errorf("written %v, want the 10 oldest", st.rows)
	}
	if l := log.String(); !strings.Contains(l, "queue is full") || !strings.Contains(l, "dropped=15") || !strings.Contains(l, "dropped_usd=15") {
		t.Errorf("the log does not say what was dropped:\n%s", l)
	}
}
