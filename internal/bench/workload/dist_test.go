package workload

import (
	"io"
	"math"
	"os"
	"strings"
	"testing"
)

func TestParseDist(t *testing.T) {
	for _, tc := range []struct {
		spec, want, err string
	}{
		{"128", "fixed:128", ""},
		{"fixed:64", "fixed:64", ""},
		{"uniform:64,256", "uniform:64,256", ""},
		{"Normal:256,64", "normal:256,64", ""},
		{"normal:256,64,100,400", "normal:256,64,100,400", ""},
		{"lognormal:200,0.5", "lognormal:200,0.5", ""},
		{"exponential:100", "exponential:100", ""},
		{"exponential:100,10,300", "exponential:100,10,300", ""},
		{"file:testdata/lengths.txt", "file:testdata/lengths.txt", ""},
		{"0", "", "between 1"},
		{"fixed:1.5", "", "whole tokens"},
		{"uniform:256,64", "", "the least first"},
		{"uniform:1,2,3,4", "", "takes 2"},
		{"normal:256", "", "takes 2"},
		{"normal:-5,1", "", "mean must be positive"},
		{"lognormal:100,-1", "", "spread"},
		{"poisson:3", "", "unknown distribution"},
		{"normal:a,b", "", "not a number"},
		{"exponential:NaN", "", "not a number"},
		{"fixed:2000000", "", "between 1"},
		{"file:", "", "give a path"},
		{"file:testdata/nope.txt", "", "no such file"},
	} {
		d, err := ParseDist(tc.spec, func(p string) (io.ReadCloser, error) { return os.Open(p) })
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseDist(%q) = %v, want an error about %q", tc.spec, err, tc.err)
			}
			continue
		}
		if err != nil || d.String() != tc.want {
			t.Errorf("ParseDist(%q) = %v %v, want %s", tc.spec, d, err, tc.want)
		}
	}
	if _, err := ParseDist("file:x", nil); err == nil {
		t.Error("a file dist without an opener")
	}
}

// TestDistStats draws each distribution many times: the mean (and for
// uniform the range, for normal the spread) is what was asked, within a
// tolerance, draws are within the clamp, and a key gives the same draw.
func TestDistStats(t *testing.T) {
	for _, tc := range []struct {
		spec          string
		mean, sd, tol float64 // tol is relative to the mean
		lo, hi        int
		checkSD       bool
	}{
		{"fixed:77", 77, 0, 0, 77, 77, true},
		{"uniform:100,200", 150, 100 / math.Sqrt(12), 0.01, 100, 200, true},
		{"normal:500,50", 500, 50, 0.01, 1, MaxLen, true},
		{"normal:500,50,480,520", 500, 0, 0.01, 480, 520, false},
		{"lognormal:300,0.4", 300, 300 * math.Sqrt(math.Exp(0.16)-1), 0.02, 1, MaxLen, true},
		{"exponential:200", 200, 200, 0.03, 1, MaxLen, true},
	} {
		d, err := ParseDist(tc.spec, nil)
		if err != nil {
			t.Fatal(err)
		}
		const n = 20000
		var sum, sum2 float64
		lo, hi := MaxLen, 0
		for k := range uint64(n) {
			x := d.Draw(7, k)
			if x != d.Draw(7, k) {
				t.Fatalf("%s: key %d drew two lengths", tc.spec, k)
			}
			lo, hi = min(lo, x), max(hi, x)
			sum += float64(x)
			sum2 += float64(x) * float64(x)
		}
		mean := sum / n
		sd := math.Sqrt(sum2/n - mean*mean)
		if math.Abs(mean-tc.mean) > tc.tol*tc.mean+0.5 {
			t.Errorf("%s: mean %.2f, want %.2f ± %.0f%%", tc.spec, mean, tc.mean, 100*tc.tol)
		}
		if tc.checkSD && math.Abs(sd-tc.sd) > 0.05*tc.sd+0.5 {
			t.Errorf("%s: standard deviation %.2f, want %.2f ± 5%%", tc.spec, sd, tc.sd)
		}
		if lo < tc.lo || hi > tc.hi {
			t.Errorf("%s: draws from %d to %d, want within %d..%d", tc.spec, lo, hi, tc.lo, tc.hi)
		}
		if tc.spec == "uniform:100,200" && (lo != 100 || hi != 200) {
			t.Errorf("uniform: draws from %d to %d, want both ends", lo, hi)
		}
	}
	// Another seed, other draws.
	d, _ := ParseDist("exponential:100", nil)
	same := 0
	for k := range uint64(100) {
		if d.Draw(1, k) == d.Draw(2, k) {
			same++
		}
	}
	if same > 10 {
		t.Errorf("seeds 1 and 2 drew the same length %d times in 100", same)
	}
}

func TestReadLengths(t *testing.T) {
	f, err := os.Open("testdata/lengths.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	l, err := ReadLengths("lengths.txt", f)
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for k := range uint64(5) {
		got = append(got, l.Draw(99, k))
	}
	if want := []int{10, 20, 30, 10, 20}; !equalInts(got, want) {
		t.Errorf("lengths in turn %v, want %v", got, want)
	}
	for _, tc := range []struct{ in, err string }{
		{"10\nten\n", "lengths.txt:2: \"ten\" is not a length"},
		{"10\n0\n", "lengths.txt:2"},
		{"# nothing\n\n", "no lengths"},
	} {
		if _, err := ReadLengths("lengths.txt", strings.NewReader(tc.in)); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("ReadLengths(%q) = %v, want %q", tc.in, err, tc.err)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestGammaBurstiness: gamma gaps have mean 1/rate and a coefficient of
// variation of 1/sqrt(burstiness) (1 for Poisson), seeded.
func TestGammaBurstiness(t *testing.T) {
	const rate, n = 4.0, 40000
	for _, g := range []float64{0.25, 0.5, 1, 2, 8} {
		a := NewGamma(3, rate, g)
		var sum, sum2 float64
		for range n {
			x := a.Next().Seconds()
			if x < 0 {
				t.Fatalf("g=%g: negative gap", g)
			}
			sum += x
			sum2 += x * x
		}
		mean := sum / n
		cv := math.Sqrt(sum2/n-mean*mean) / mean
		if math.Abs(mean-1/rate) > 0.03/rate {
			t.Errorf("g=%g: mean gap %.4fs, want %.4fs ± 3%%", g, mean, 1/rate)
		}
		if want := 1 / math.Sqrt(g); math.Abs(cv-want) > 0.05*want {
			t.Errorf("g=%g: CV %.3f, want %.3f ± 5%%", g, cv, want)
		}
	}
	a, b := NewGamma(5, 2, 0.5), NewGamma(5, 2, 0.5)
	for range 100 {
		if a.Next() != b.Next() {
			t.Fatal("the same seed drew other gaps")
		}
	}
	if NewGamma(5, 2, 0.5).Next() == NewGamma(6, 2, 0.5).Next() {
		t.Error("another seed drew the same first gap")
	}
}
