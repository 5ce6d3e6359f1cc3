package memtrim

import (
	"os"
	"testing"

	"github.com/tiergate/tiergate/internal/procmem"
)

// TestDropMapped: on Linux, Trim unmaps the executable's resident pages,
// so the process's file-backed RSS falls, and the process goes on running
// the code it dropped (the pages fault back in).
func TestDropMapped(t *testing.T) {
	before, err := procmem.Read(os.Getpid())
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	dropped := Trim()
	after, _ := procmem.Read(os.Getpid())
	if dropped <= 0 {
		t.Fatalf("Trim dropped %d bytes of mappings, want some (file RSS before: %d)", dropped, before.File)
	}
	if after.File >= before.File {
		t.Errorf("file-backed RSS %d -> %d after Trim dropped %d bytes, want it lower", before.File, after.File, dropped)
	}
	// The dropped code still runs.
	if again, err := procmem.Read(os.Getpid()); err != nil || again.RSS == 0 {
		t.Errorf("after Trim: %+v, %v", again, err)
	}
}
