//go:build !linux

package memtrim

// dropMapped does nothing where there is no /proc/self/smaps.
func dropMapped() int64 { return 0 }
