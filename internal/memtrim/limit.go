package memtrim

import (
	"io/fs"
	"runtime/debug"
	"strconv"
	"strings"
)

// LimitShare is the part of a container's memory limit that SetLimit
// gives the Go runtime as its soft limit: the rest is for what the
// runtime does not count (the executable's mapped pages, the page cache
// the cgroup is charged for, memory outside the heap's accounting).
const LimitShare = 0.9

// SetLimit gives the Go runtime a soft memory limit (debug.SetMemoryLimit)
// when the process runs under a cgroup memory limit and GOMEMLIMIT is not
// set: LimitShare of the limit, so that the collector works harder as the
// heap nears it instead of the kernel killing the process. GOMEMLIMIT,
// when set, is left to the runtime, which honours it. cgroup is the
// cgroup file system's root as the process sees it (os.DirFS
// ("/sys/fs/cgroup")), read as v2 (memory.max) then v1
// (memory/memory.limit_in_bytes). It returns the limit it set and where
// it came from (0 and "" when it set none).
func SetLimit(getenv func(string) string, cgroup fs.FS) (limit int64, source string) {
	if getenv("GOMEMLIMIT") != "" {
		return 0, ""
	}
	for _, name := range []string{"memory.max", "memory/memory.limit_in_bytes"} {
		b, err := fs.ReadFile(cgroup, name)
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil || n <= 0 || n >= 1<<60 { // "max", or v1's "unlimited" (a huge number)
			return 0, ""
		}
		limit = int64(float64(n) * LimitShare)
		debug.SetMemoryLimit(limit)
		return limit, "cgroup " + name
	}
	return 0, ""
}
