// Package procmem reads a process's memory figures from Linux's
// /proc/<pid>/status: the one copy of that reader the overhead benchmark
// and the gateway's resource tests share. It imports only the standard
// library.
package procmem

import (
	"os"
	"strconv"
	"strings"
)

// Memory is what /proc/<pid>/status says of a process's memory, in bytes
// (zero for a figure it does not give).
type Memory struct {
	RSS  int64 // VmRSS: resident now
	Peak int64 // VmHWM: the resident high-water mark
	// RSS split: Anon is the process's own memory (heap, stacks); File is
	// pages of mapped files, mostly the executable's, which are clean
	// page cache shared with every process that maps them.
	Anon int64 // RssAnon
	File int64 // RssFile
}

// Read reads pid's memory figures; an error means there is no /proc (not
// Linux) or no such process.
func Read(pid int) (Memory, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return Memory{}, err
	}
	var m Memory
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmHWM:":
			m.Peak = kb << 10
		case "VmRSS:":
			m.RSS = kb << 10
		case "RssAnon:":
			m.Anon = kb << 10
		case "RssFile:":
			m.File = kb << 10
		}
	}
	return m, nil
}
