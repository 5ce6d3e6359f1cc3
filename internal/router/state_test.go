package router

import (
	"testing"
	"unsafe"
)

// TestLiveLayout: what a decision reads of a backend's live state lies in
// its first cache line, and the padding makes it a size class whose
// allocations start on one (a field added to live must move liveFields).
func TestLiveLayout(t *testing.T) {
	var l live
	if got := unsafe.Sizeof(l); got != liveSize || liveSize%64 != 0 {
		t.Errorf("live is %d bytes, want liveSize %d, a multiple of 64", got, liveSize)
	}
	if end := unsafe.Offsetof(l.lastError) + unsafe.Sizeof(l.lastError); end != liveFields {
		t.Errorf("live's fields end at %d, liveFields is %d", end, liveFields)
	}
	for name, off := range map[string]uintptr{"ewma": unsafe.Offsetof(l.ewma), "ewmaAtNs": unsafe.Offsetof(l.ewmaAtNs),
		"prior": unsafe.Offsetof(l.prior), "openedAtNs": unsafe.Offsetof(l.openedAtNs), "cooldownNs": unsafe.Offsetof(l.cooldownNs),
		"rank": unsafe.Offsetof(l.rank), "tps": unsafe.Offsetof(l.tps), "open": unsafe.Offsetof(l.open)} {
		if off >= 64 {
			t.Errorf("live.%s is at byte %d, past the first cache line", name, off)
		}
	}
}
