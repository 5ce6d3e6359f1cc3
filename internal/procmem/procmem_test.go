package procmem

import (
	"os"
	"testing"
)

// TestReadSelf: this process is resident, and its peak is at least what
// it holds now, split into its own and mapped files' pages; a process that does not exist is an error.
func TestReadSelf(t *testing.T) {
	m, err := Read(os.Getpid())
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	if m.RSS <= 0 || m.Peak < m.RSS {
		t.Errorf("Read(self) = %+v, want 0 < RSS <= Peak", m)
	}
	if m.Anon <= 0 || m.File <= 0 || m.Anon+m.File > m.RSS {
		t.Errorf("Read(self) = %+v, want 0 < Anon, 0 < File, Anon+File <= RSS", m)
	}
	if _, err := Read(-1); err == nil {
		t.Error("Read(-1) gave no error")
	}
}
