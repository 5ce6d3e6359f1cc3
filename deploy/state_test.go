package deploy

import (
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
)

// TestComposeSharedState checks the Redis and Postgres services the
// replicas share: official images, a healthcheck the gateway waits for, a
// named volume for the data, and the gateway's TIERGATE_REDIS_URL and
// TIERGATE_POSTGRES_URL pointing at them.
func TestComposeSharedState(t *testing.T) {
	p := loadCompose(t)
	gw, err := p.GetService("gateway")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		service, image, env, scheme, port, dataDir string
	}{
		{"redis", "redis:", "TIERGATE_REDIS_URL", "redis", "6379", "/data"},
		{"postgres", "postgres:", "TIERGATE_POSTGRES_URL", "postgres", "5432", "/var/lib/postgresql/data"},
	} {
		s, err := p.GetService(tc.service)
		if err != nil {
			t.Errorf("no %s service: %v", tc.service, err)
			continue
		}
		if !strings.HasPrefix(s.Image, tc.image) || strings.HasSuffix(s.Image, ":latest") {
			t.Errorf("%s image %q: want the official image at a pinned tag", tc.service, s.Image)
		}
		if s.HealthCheck == nil || len(s.HealthCheck.Test) < 2 || s.HealthCheck.Disable {
			t.Errorf("%s has no healthcheck", tc.service)
		}
		vol := false
		for _, v := range s.Volumes {
			if v.Type == types.VolumeTypeVolume && v.Target == tc.dataDir {
				vol = true
			}
		}
		if !vol {
			t.Errorf("%s keeps %s on no named volume: its data would go with the container", tc.service, tc.dataDir)
		}
		if dep, ok := gw.DependsOn[tc.service]; !ok || dep.Condition != types.ServiceConditionHealthy {
			t.Errorf("the gateway does not wait for %s to be healthy: %+v", tc.service, gw.DependsOn)
		}
		raw := gw.Environment[tc.env]
		if raw == nil {
			t.Errorf("the gateway has no %s", tc.env)
			continue
		}
		u, err := url.Parse(*raw)
		if err != nil || u.Scheme != tc.scheme || u.Host != net.JoinHostPort(tc.service, tc.port) {
			t.Errorf("%s=%q (%v): want %s://%s:%s", tc.env, *raw, err, tc.scheme, tc.service, tc.port)
		}
	}
	pg, err := p.GetService("postgres")
	if err == nil {
		raw := gw.Environment["TIERGATE_POSTGRES_URL"]
		if raw != nil {
			u, _ := url.Parse(*raw)
			pass, _ := u.User.Password()
			if u.User.Username() != deref(pg.Environment["POSTGRES_USER"]) || pass != deref(pg.Environment["POSTGRES_PASSWORD"]) || strings.TrimPrefix(u.Path, "/") != deref(pg.Environment["POSTGRES_DB"]) {
				t.Errorf("TIERGATE_POSTGRES_URL's user, password or database does not match the postgres service's")
			}
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
