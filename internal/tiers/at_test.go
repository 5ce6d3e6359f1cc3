package tiers

import (
	"strings"
	"testing"
)

func TestParseAt(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want At
		str  string
		bad  bool
	}{
		{in: "concurrency=8", want: At{Concurrency: 8}, str: "c=8"},
		{in: "c=4", want: At{Concurrency: 4}, str: "c=4"},
		{in: " rate = 2.5 ", want: At{Rate: 2.5}, str: "rate=2.5/s"},
		{in: "rate=2/s", want: At{Rate: 2}, str: "rate=2/s"},
		{in: "concurrency=0", bad: true},
		{in: "rate=-1", bad: true},
		{in: "rate=NaN", bad: true},
		{in: "rps=2", bad: true},
		{in: "8", bad: true},
	} {
		got, err := ParseAt(tc.in)
		if tc.bad {
			if err == nil || !strings.Contains(err.Error(), "concurrency=N or rate=R") {
				t.Errorf("ParseAt(%q) = %+v, %v; want an error saying what to give", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want || got.String() != tc.str {
			t.Errorf("ParseAt(%q) = %+v (%s), %v; want %+v (%s)", tc.in, got, got, err, tc.want, tc.str)
		}
	}
	if !(At{}).Single() || !(At{Concurrency: 1}).Single() || (At{Concurrency: 2}).Single() || (At{Rate: 1}).Single() {
		t.Error("Single")
	}
}

func TestParseRejectsBadAt(t *testing.T) {
	_, err := Parse([]byte(`{"version":1,"tiers":[{"model":"m","tier":"fast","at":{"concurrency":2,"rate":1}}]}`))
	if err == nil || !strings.Contains(err.Error(), "not both") {
		t.Errorf("an entry measured at both a concurrency and a rate: %v", err)
	}
	f, err := Parse([]byte(`{"version":1,"tiers":[{"model":"m","tier":"moderate","at":{"concurrency":8}}]}`))
	if err != nil || f.Tiers[0].At == nil || f.Tiers[0].At.Concurrency != 8 {
		t.Errorf("an entry measured at c=8: %+v %v", f, err)
	}
}
