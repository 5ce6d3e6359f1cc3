package memtrim

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// dropMapped unmaps from this process the resident pages of its
// read-only file mappings, mostly the executable's text and read-only
// data, with madvise(MADV_DONTNEED). Start-up (package init, the runtime
// walking its tables) touches pages all over a large binary, and the
// kernel maps whole page-cache folios around each touch: a gateway that
// links the provider SDKs is left with ~25 MB of its executable in its
// RSS, most of which it never touches again. The pages stay in the page
// cache (shared, clean); those the process uses again are mapped back on
// their next touch, a minor fault. Only mappings without write
// permission and without private (copied-on-write) pages are dropped, so
// no data is lost: a PIE binary's relocated read-only pages are kept.
func dropMapped() (dropped int64) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0
	}
	defer f.Close()
	type mapping struct {
		start, end uint64
		rss        int64
		private    bool
	}
	var maps []mapping
	var cur *mapping
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if i := bytes.IndexByte(line, ' '); i > 0 && bytes.IndexByte(line[:i], '-') > 0 && !bytes.HasSuffix(line[:i], []byte(":")) {
			cur = nil
			fields := strings.Fields(string(line))
			// address perms offset dev inode path
			if len(fields) < 6 || fields[1][1] == 'w' || fields[1][0] != 'r' || !strings.HasPrefix(fields[5], "/") {
				continue
			}
			lo, hi, ok := strings.Cut(fields[0], "-")
			start, err1 := strconv.ParseUint(lo, 16, 64)
			end, err2 := strconv.ParseUint(hi, 16, 64)
			if !ok || err1 != nil || err2 != nil {
				continue
			}
			maps = append(maps, mapping{start: start, end: end})
			cur = &maps[len(maps)-1]
			continue
		}
		if cur == nil {
			continue
		}
		name, val, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		kb, _ := strconv.ParseInt(string(bytes.TrimSuffix(bytes.TrimSpace(val), []byte(" kB"))), 10, 64)
		switch string(name) {
		case "Rss":
			cur.rss = kb << 10
		case "Anonymous": // pages copied on write (not Private_Dirty: a
			// file written moments ago has dirty page-cache pages)
			if kb != 0 {
				cur.private = true
			}
		}
	}
	if sc.Err() != nil {
		return 0
	}
	for _, m := range maps {
		if m.private || m.rss == 0 {
			continue
		}
		if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, uintptr(m.start), uintptr(m.end-m.start), syscall.MADV_DONTNEED); errno == 0 {
			dropped += m.rss
		}
	}
	return dropped
}
