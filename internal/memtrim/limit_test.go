package memtrim

import (
	"math"
	"runtime/debug"
	"testing"
	"testing/fstest"
)

// TestSetLimit: a cgroup memory limit (v2 or v1) becomes the runtime's
// soft limit at LimitShare of it; no limit, an unlimited v1 value or a
// GOMEMLIMIT of the operator's own sets none.
func TestSetLimit(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1)) // restore
	gib := int64(1 << 30)
	tests := []struct {
		name       string
		files      fstest.MapFS
		gomemlimit string
		want       int64
		source     string
	}{
		{"v2 limit", fstest.MapFS{"memory.max": {Data: []byte("1073741824\n")}}, "", int64(float64(gib) * LimitShare), "cgroup memory.max"},
		{"v2 max", fstest.MapFS{"memory.max": {Data: []byte("max\n")}}, "", 0, ""},
		{"v1 limit", fstest.MapFS{"memory/memory.limit_in_bytes": {Data: []byte("2147483648\n")}}, "", int64(float64(2*gib) * LimitShare), "cgroup memory/memory.limit_in_bytes"},
		{"v1 unlimited", fstest.MapFS{"memory/memory.limit_in_bytes": {Data: []byte("9223372036854771712\n")}}, "", 0, ""},
		{"no cgroup", fstest.MapFS{}, "", 0, ""},
		{"GOMEMLIMIT wins", fstest.MapFS{"memory.max": {Data: []byte("1073741824\n")}}, "500MiB", 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetMemoryLimit(math.MaxInt64)
			got, source := SetLimit(func(k string) string {
				if k == "GOMEMLIMIT" {
					return tc.gomemlimit
				}
				return ""
			}, tc.files)
			if got != tc.want || source != tc.source {
				t.Errorf("SetLimit = %d, %q; want %d, %q", got, source, tc.want, tc.source)
			}
			want := tc.want
			if want == 0 {
				want = math.MaxInt64
			}
			if now := debug.SetMemoryLimit(-1); now != want {
				t.Errorf("runtime memory limit = %d, want %d", now, want)
			}
		})
	}
}
