package router

import (
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/config"
)

// TestProbeSettingsRetry: a failing keyless provider is re-probed every
// 2s by default (its recovery is noticed within seconds), a keyed one
// whose probes were turned on only every interval (they are billed);
// retry_interval overrides both and never exceeds the interval.
func TestProbeSettingsRetry(t *testing.T) {
	on := true
	cfg := &config.Config{Providers: map[string]*config.Provider{
		"local":   {},
		"keyed":   {APIKeyEnv: "K", Probe: config.Probe{Enabled: &on, Interval: time.Minute}},
		"set":     {Probe: config.Probe{Interval: time.Minute, RetryInterval: 500 * time.Millisecond}},
		"capped":  {Probe: config.Probe{Interval: time.Second, RetryInterval: time.Minute}},
		"offsaas": {APIKeyEnv: "K"},
	}}
	got := ProbeSettings(cfg)
	for _, tc := range []struct {
		name            string
		interval, retry time.Duration
	}{
		{"local", 30 * time.Second, 2 * time.Second},
		{"keyed", time.Minute, time.Minute},
		{"set", time.Minute, 500 * time.Millisecond},
		{"capped", time.Second, time.Second},
	} {
		p, ok := got[tc.name]
		if !ok || p.Interval != tc.interval || p.Retry != tc.retry {
			t.Errorf("%s: %+v (present %v), want interval %v retry %v", tc.name, p, ok, tc.interval, tc.retry)
		}
	}
	if _, ok := got["offsaas"]; ok {
		t.Error("a keyed provider is probed without probe.enabled")
	}
}
