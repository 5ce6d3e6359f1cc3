package keys

import (
	"context"
	"strconv"
	"testing"
	"time"
)

// BenchmarkAuthenticate is the hot path's cost of a key: the hash, the
// lookup among 1000 keys and the limiter of a key with rpm 60 and
// max_concurrent 4 (the clock moves 2s a request, so the minute's log
// stays full).
func BenchmarkAuthenticate(b *testing.B) {
	static := make([]Key, 1000)
	var secret string
	for i := range static {
		s, _ := NewSecret()
		static[i] = Key{ID: "key_" + strconv.Itoa(i), Name: "k", Hash: HashSecret(s), Policy: Policy{RPM: 60, MaxConcurrent: 4}}
		secret = s
	}
	now := time.Now()
	r, err := NewRing(context.Background(), RingOptions{Static: static, Now: func() time.Time { now = now.Add(2 * time.Second); return now }})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		id, err := r.Authenticate(secret)
		if err != nil {
			b.Fatal(err)
		}
		l, release := r.Acquire(id)
		if !l.Allowed {
			b.Fatalf("refused: %+v", l)
		}
		release()
	}
}
