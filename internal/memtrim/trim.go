package memtrim

import "runtime/debug"

// Trim returns what memory it can to the operating system: the heap's
// free pages (debug.FreeOSMemory, after a collection) and, on Linux, this
// process's mappings of read-only file pages (dropMapped), and reports how
// many bytes of those mappings it dropped. The gateway calls it once
// start-up is done and after each burst (Trimmer).
func Trim() (dropped int64) {
	debug.FreeOSMemory()
	return dropMapped()
}
