package gateway

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/tiergate/tiergate/internal/providers"
)

// TestBodyClass: every size gets the smallest class that holds it, a
// class wastes at most a quarter of its buffer past the first, and sizes
// above maxPooled are not pooled.
func TestBodyClass(t *testing.T) {
	prev := -1
	for _, n := range []int{1, 1 << 16, 1<<16 + 1, 80 << 10, 1<<20 - 1, 1 << 20, 1<<20 + 1, 1<<20 + 1<<18, 5 << 20, maxPooled} {
		idx, size, ok := bodyClass(n)
		if !ok || size < n || idx < prev || idx >= bodyClasses {
			t.Fatalf("bodyClass(%d) = %d, %d, %v", n, idx, size, ok)
		}
		if n > 1<<16 && size > n+n/4 {
			t.Errorf("bodyClass(%d): size %d wastes more than a quarter", n, size)
		}
		if _, smaller, _ := bodyClass(size); smaller != size {
			t.Errorf("bodyClass(%d) = %d, but a body of that size gets %d", n, size, smaller)
		}
		prev = idx
	}
	if _, _, ok := bodyClass(maxPooled + 1); ok {
		t.Error("a body above maxPooled is pooled")
	}
}

// TestBodyHold: a pooled buffer goes back to its pool only when the
// handler and every upstream request body holding it have let go, and a
// held body reads nothing once its transport closed it.
func TestBodyHold(t *testing.T) {
	var p bodyPool
	b := p.make(200 << 10)
	if b == nil || len(b.buf) < 200<<10 {
		t.Fatal("no buffer")
	}
	copy(b.buf, "hello")
	ctx := providers.WithBodyHold(context.Background(), b.hold)
	up1 := providers.HeldBody(ctx, strings.NewReader("hello"))
	up2 := providers.HeldBody(ctx, strings.NewReader("hello"))
	b.release() // the handler is done
	if got := p.get(200 << 10); got != nil {
		t.Fatal("the buffer was reused while upstream requests held it")
	}
	up1.Close()
	up1.Close() // a second Close lets go only once
	if got := p.get(200 << 10); got != nil {
		t.Fatal("the buffer was reused while an upstream request held it")
	}
	if n, err := up1.Read(make([]byte, 5)); n != 0 || err == nil {
		t.Fatalf("a closed body read %d bytes, %v", n, err)
	}
	if got, _ := io.ReadAll(up2); string(got) != "hello" {
		t.Fatalf("read %q", got)
	}
	if b.refs.Load() != 1 {
		t.Fatalf("%d holds left with one upstream request open, want 1", b.refs.Load())
	}
	up2.Close()
	// (sync.Pool may drop what it is given, so the count is what to check.)
	if b.refs.Load() != 0 {
		t.Fatalf("%d holds left once every one was let go", b.refs.Load())
	}
}
