package helm

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	"helm.sh/helm/v3/pkg/releaseutil"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/tiergate/tiergate/configs"
	"github.com/tiergate/tiergate/internal/config"
)

const (
	chartDir  = "tiergate"
	namespace = "llm"
	// configPath is where the chart mounts the gateway's config file.
	configKey = "tiergate.yaml"
)

// serviceMonitor is the part of prometheus-operator's ServiceMonitor
// (monitoring.coreos.com/v1) the chart writes; decoding strictly into it
// fails on any other field, a typo included.
type serviceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Selector  metav1.LabelSelector `json:"selector"`
		Endpoints []struct {
			Port     string `json:"port"`
			Path     string `json:"path"`
			Interval string `json:"interval"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// objects is a rendered release, each object decoded strictly into its
// Kubernetes API type.
type objects struct {
	ConfigMaps      []*corev1.ConfigMap
	Deployments     []*appsv1.Deployment
	Services        []*corev1.Service
	HPAs            []*autoscalingv2.HorizontalPodAutoscaler
	PDBs            []*policyv1.PodDisruptionBudget
	CronJobs        []*batchv1.CronJob
	ServiceMonitors []*serviceMonitor
}

// allOn turns every optional part of the chart on.
func allOn() map[string]any {
	return map[string]any{
		"replicaCount": 3,
		"auth": map[string]any{
			"admin": map[string]any{"existingSecret": "tiergate-admin"},
			"keys": []any{map[string]any{
				"name": "ci", "existingSecret": "tiergate-keys", "secretKey": "ci",
				"expires_at": "2027-01-01T00:00:00Z",
				"policy":     map[string]any{"profile": "private", "rpm": 60, "budget": map[string]any{"usd": 50, "period": "month"}},
			}},
		},
		"providers":   map[string]any{"existingSecret": "tiergate-providers"},
		"env":         map[string]any{"OLLAMA_HOST": "http://ollama.llm.svc:11434"},
		"state":       map[string]any{"redis": map[string]any{"existingSecret": "tiergate-redis"}, "postgres": map[string]any{"existingSecret": "tiergate-postgres"}},
		"lifecycle":   map[string]any{"preStopSleepSeconds": 3},
		"autoscaling": map[string]any{"enabled": true},
		"metrics":     map[string]any{"serviceMonitor": map[string]any{"enabled": true, "labels": map[string]any{"release": "kube-prometheus"}}},
		"bench":       map[string]any{"enabled": true, "tiersClaim": "tiergate-tiers", "args": []any{"-requests", "20"}},
	}
}

// render renders the chart in dir with vals as `helm template` would.
func render(dir string, vals map[string]any) (map[string]string, error) {
	ch, err := loader.Load(dir)
	if err != nil {
		return nil, err
	}
	rv, err := chartutil.ToRenderValues(ch, vals, chartutil.ReleaseOptions{Name: "tg", Namespace: namespace, Revision: 1, IsInstall: true}, chartutil.DefaultCapabilities)
	if err != nil {
		return nil, err
	}
	return engine.Render(ch, rv)
}

// decode splits the rendered files into objects and decodes each strictly:
// an unknown or misspelt field, a wrong type or an unknown kind is an
// error.
func decode(files map[string]string) (*objects, error) {
	var o objects
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		if strings.HasSuffix(name, "NOTES.txt") || strings.HasSuffix(name, ".tpl") {
			continue
		}
		for _, doc := range releaseutil.SplitManifests(files[name]) {
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			if tm.Kind == "" {
				continue // only comments
			}
			var err error
			switch gvk := tm.APIVersion + " " + tm.Kind; gvk {
			case "v1 ConfigMap":
				o.ConfigMaps, err = strict(doc, o.ConfigMaps)
			case "apps/v1 Deployment":
				o.Deployments, err = strict(doc, o.Deployments)
			case "v1 Service":
				o.Services, err = strict(doc, o.Services)
			case "autoscaling/v2 HorizontalPodAutoscaler":
				o.HPAs, err = strict(doc, o.HPAs)
			case "policy/v1 PodDisruptionBudget":
				o.PDBs, err = strict(doc, o.PDBs)
			case "batch/v1 CronJob":
				o.CronJobs, err = strict(doc, o.CronJobs)
			case "monitoring.coreos.com/v1 ServiceMonitor":
				o.ServiceMonitors, err = strict(doc, o.ServiceMonitors)
			default:
				err = fmt.Errorf("%s: the test knows no type for it", gvk)
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
		}
	}
	return &o, nil
}

func strict[T any](doc string, list []*T) ([]*T, error) {
	v := new(T)
	if err := yaml.UnmarshalStrict([]byte(doc), v); err != nil {
		return list, err
	}
	return append(list, v), nil
}

func mustRender(t *testing.T, vals map[string]any) *objects {
	t.Helper()
	files, err := render(chartDir, vals)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	o, err := decode(files)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if len(o.Deployments) != 1 || len(o.ConfigMaps) != 1 || len(o.Services) != 1 {
		t.Fatalf("%d Deployments, %d ConfigMaps, %d Services: want one each", len(o.Deployments), len(o.ConfigMaps), len(o.Services))
	}
	return o
}

// TestMain silences the standard logger, where Helm's loader says that
// files/tiergate.yaml is a link (to configs/tiergate.yaml, on purpose).
func TestMain(m *testing.M) {
	log.SetOutput(io.Discard)
	os.Exit(m.Run())
}

// TestLint runs Helm's linter (`helm lint`, with --strict's bar: no
// warning) with the default values and with every optional part on.
func TestLint(t *testing.T) {
	for name, vals := range map[string]map[string]any{"defaults": nil, "all-on": allOn()} {
		t.Run(name, func(t *testing.T) {
			l := lint.All(chartDir, vals, namespace, false)
			for _, m := range l.Messages {
				if m.Severity >= support.WarningSev {
					t.Errorf("helm lint: %s", m)
				}
			}
		})
	}
}

// TestDefaults renders the chart with its default values: one gateway
// that requires keys, probes on /readyz and /healthz, a read-only,
// non-root pod, a termination grace above the drain and the grace, and the
// embedded default configuration, which the gateway loads.
func TestDefaults(t *testing.T) {
	o := mustRender(t, nil)
	if len(o.HPAs)+len(o.ServiceMonitors)+len(o.CronJobs) != 0 {
		t.Errorf("optional parts on by default: %d HPAs, %d ServiceMonitors, %d CronJobs", len(o.HPAs), len(o.ServiceMonitors), len(o.CronJobs))
	}
	if len(o.PDBs) != 1 || o.PDBs[0].Spec.MaxUnavailable == nil || o.PDBs[0].Spec.MaxUnavailable.IntValue() != 1 {
		t.Errorf("PodDisruptionBudget %+v: want one with maxUnavailable 1 (a single replica can still be drained)", o.PDBs)
	}
	d := o.Deployments[0]
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
		t.Errorf("replicas %v, want 1", d.Spec.Replicas)
	}
	if got, want := o.ConfigMaps[0].Data[configKey], string(configs.Default()); got != want {
		g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
		i := 0
		for i < min(len(g), len(w)) && g[i] == w[i] {
			i++
		}
		t.Errorf("the ConfigMap's config is not configs/tiergate.yaml: line %d is %q, want %q (files/tiergate.yaml must stay the embedded default)", i+1, at(g, i), at(w, i))
	}
	cfg := checkGateway(t, o, nil)
	if cfg.Auth.Mode != "keys" {
		t.Errorf("auth mode %q, want keys: a pod's address is not loopback", cfg.Auth.Mode)
	}
	c := d.Spec.Template.Spec.Containers[0]
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
		t.Errorf("preStop %+v by default: the gateway serves through drain_delay after SIGTERM on its own", c.Lifecycle.PreStop)
	}
	// Without a preStop sleep the pod leaves the endpoints by failing its
	// readiness probe during drain_delay: the probe must notice within it.
	rp := c.ReadinessProbe
	notice := time.Duration(rp.PeriodSeconds*rp.FailureThreshold+rp.TimeoutSeconds) * time.Second
	if notice > cfg.Server.DrainDelay {
		t.Errorf("the readiness probe notices draining after up to %v, beyond drain_delay %v", notice, cfg.Server.DrainDelay)
	}
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			t.Errorf("env %s comes from %+v with no Secret configured", e.Name, e.ValueFrom)
		}
	}
}

// TestAllOn renders every optional part: the HPA, the ServiceMonitor, the
// bench CronJob, Redis and Postgres URLs, provider, admin and gateway key
// Secrets, a preStop sleep.
func TestAllOn(t *testing.T) {
	o := mustRender(t, allOn())
	d := o.Deployments[0]
	if d.Spec.Replicas != nil {
		t.Errorf("replicas %d set with autoscaling on: the HPA owns them", *d.Spec.Replicas)
	}
	keys := map[string]string{"TIERGATE_KEY_0": "tg-" + strings.Repeat("a1B2c3D4e5", 4) + "xyz"}
	cfg := checkGateway(t, o, keys)
	if len(cfg.Auth.Keys) != 1 || cfg.Auth.Keys[0].Name != "ci" || cfg.Auth.Keys[0].Parsed.Policy.Profile != "private" || cfg.Auth.Keys[0].ExpiresAt == "" {
		t.Errorf("config keys %+v: want ci with profile private and its expiry", cfg.Auth.Keys)
	}
	c := d.Spec.Template.Spec.Containers[0]
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil || c.Lifecycle.PreStop.Sleep.Seconds != 3 {
		t.Errorf("preStop %+v, want a 3 s sleep action", c.Lifecycle)
	}
	want := map[string][2]string{ // variable -> Secret, key
		"OPENAI_API_KEY":        {"tiergate-providers", "OPENAI_API_KEY"},
		"GROQ_API_KEY":          {"tiergate-providers", "GROQ_API_KEY"},
		"ANTHROPIC_API_KEY":     {"tiergate-providers", "ANTHROPIC_API_KEY"},
		"GEMINI_API_KEY":        {"tiergate-providers", "GEMINI_API_KEY"},
		"TIERGATE_ADMIN_KEY":    {"tiergate-admin", "TIERGATE_ADMIN_KEY"},
		"TIERGATE_KEY_0":        {"tiergate-keys", "ci"},
		"TIERGATE_REDIS_URL":    {"tiergate-redis", "url"},
		"TIERGATE_POSTGRES_URL": {"tiergate-postgres", "url"},
	}
	checkSecretRefs(t, "gateway", c.Env, want)
	if v := envValue(c.Env, "OLLAMA_HOST"); v != "http://ollama.llm.svc:11434" {
		t.Errorf("OLLAMA_HOST %q", v)
	}

	// The HPA scales this Deployment on CPU.
	if len(o.HPAs) != 1 {
		t.Fatalf("%d HPAs", len(o.HPAs))
	}
	h := o.HPAs[0]
	if h.Spec.ScaleTargetRef.Kind != "Deployment" || h.Spec.ScaleTargetRef.Name != d.Name || h.Spec.ScaleTargetRef.APIVersion != "apps/v1" {
		t.Errorf("HPA targets %+v, not the Deployment %s", h.Spec.ScaleTargetRef, d.Name)
	}
	if len(h.Spec.Metrics) != 1 || h.Spec.Metrics[0].Resource == nil || h.Spec.Metrics[0].Resource.Name != corev1.ResourceCPU || h.Spec.Metrics[0].Resource.Target.AverageUtilization == nil {
		t.Errorf("HPA metrics %+v: want CPU utilisation", h.Spec.Metrics)
	}
	if c.Resources.Requests.Cpu().IsZero() {
		t.Error("no CPU request: a CPU utilisation target needs one")
	}
	if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 2 || h.Spec.MaxReplicas < *h.Spec.MinReplicas {
		t.Errorf("HPA replicas %v..%d", h.Spec.MinReplicas, h.Spec.MaxReplicas)
	}

	// The ServiceMonitor scrapes /metrics on the Service's port.
	if len(o.ServiceMonitors) != 1 {
		t.Fatalf("%d ServiceMonitors", len(o.ServiceMonitors))
	}
	sm, svc := o.ServiceMonitors[0], o.Services[0]
	if !selects(sm.Spec.Selector.MatchLabels, svc.Labels) {
		t.Errorf("ServiceMonitor selects %v; the Service is labelled %v", sm.Spec.Selector.MatchLabels, svc.Labels)
	}
	if sm.Labels["release"] != "kube-prometheus" {
		t.Errorf("ServiceMonitor labels %v lack metrics.serviceMonitor.labels", sm.Labels)
	}
	if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Path != "/metrics" || !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == sm.Spec.Endpoints[0].Port }) {
		t.Errorf("ServiceMonitor endpoints %+v: want /metrics on a Service port", sm.Spec.Endpoints)
	}

	// The bench CronJob: same config and keys, tiers into the claim the
	// gateway reads, -publish to Redis.
	if len(o.CronJobs) != 1 {
		t.Fatalf("%d CronJobs", len(o.CronJobs))
	}
	cj := o.CronJobs[0]
	pod := cj.Spec.JobTemplate.Spec.Template.Spec
	if cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent || pod.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("CronJob concurrency %q restart %q: want Forbid and Never", cj.Spec.ConcurrencyPolicy, pod.RestartPolicy)
	}
	b := pod.Containers[0]
	if !slices.Equal(b.Command, []string{"/bench"}) || b.Image != c.Image {
		t.Errorf("bench container runs %v from %s, want /bench from the gateway's image %s", b.Command, b.Image, c.Image)
	}
	checkPodSecurity(t, "bench", &pod, &b)
	checkSecretRefs(t, "bench", b.Env, map[string][2]string{
		"OPENAI_API_KEY":     want["OPENAI_API_KEY"],
		"TIERGATE_REDIS_URL": want["TIERGATE_REDIS_URL"],
	})
	if slices.ContainsFunc(b.Env, func(e corev1.EnvVar) bool { return e.Name == "TIERGATE_ADMIN_KEY" }) {
		t.Error("the bench job gets the admin key, which it does not need")
	}
	if i := slices.Index(b.Args, "-publish"); i < 0 || i+1 >= len(b.Args) || b.Args[i+1] != "$(TIERGATE_REDIS_URL)" {
		t.Errorf("bench args %v: want -publish $(TIERGATE_REDIS_URL) with state.redis set", b.Args)
	}
	if !slices.Contains(b.Args, "-requests") {
		t.Errorf("bench args %v lack bench.args", b.Args)
	}
	benchCfg := flagValue(t, b.Args, "-config")
	if !mountedFrom(&pod, &b, benchCfg, o.ConfigMaps[0].Name, configKey) {
		t.Errorf("bench -config %s is not the chart's ConfigMap", benchCfg)
	}
	tiersOut, tiersIn := flagValue(t, b.Args, "-tiers-out"), flagValue(t, c.Args, "-tiers")
	if tiersOut != tiersIn {
		t.Errorf("bench writes %s, the gateway reads %s", tiersOut, tiersIn)
	}
	if claim := claimAt(&pod, &b, tiersOut); claim != "tiergate-tiers" {
		t.Errorf("bench writes %s on claim %q, want tiergate-tiers", tiersOut, claim)
	}
	if claim := claimAt(&d.Spec.Template.Spec, &c, tiersIn); claim != "tiergate-tiers" {
		t.Errorf("the gateway reads %s on claim %q, want tiergate-tiers", tiersIn, claim)
	}
	if _, err := config.Load("bench config", []byte(o.ConfigMaps[0].Data[configKey]), podEnv(b.Env, keys)); err != nil {
		t.Errorf("the bench's config does not load: %v", err)
	}
}

// checkGateway checks what every rendering must hold and returns the
// ConfigMap's config as the gateway loads it in the pod's environment
// (secret references read from secrets, else a placeholder).
func checkGateway(t *testing.T, o *objects, secrets map[string]string) *config.Config {
	t.Helper()
	d, svc, cm := o.Deployments[0], o.Services[0], o.ConfigMaps[0]
	pod := &d.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Containers))
	}
	c := &pod.Containers[0]
	if !selects(d.Spec.Selector.MatchLabels, d.Spec.Template.Labels) || !selects(svc.Spec.Selector, d.Spec.Template.Labels) {
		t.Errorf("selectors %v (Deployment) and %v (Service) do not match the pod's labels %v", d.Spec.Selector.MatchLabels, svc.Spec.Selector, d.Spec.Template.Labels)
	}
	for _, pdb := range o.PDBs {
		if !selects(pdb.Spec.Selector.MatchLabels, d.Spec.Template.Labels) {
			t.Errorf("the PodDisruptionBudget selects %v, not the pods", pdb.Spec.Selector.MatchLabels)
		}
	}

	// The config: the ConfigMap mounted where -config points, loading in
	// the pod's environment.
	path := flagValue(t, c.Args, "-config")
	if !mountedFrom(pod, c, path, cm.Name, configKey) {
		t.Errorf("-config %s is not the ConfigMap %s's %s", path, cm.Name, configKey)
	}
	getenv := podEnv(c.Env, secrets)
	cfg, err := config.Load(path, []byte(cm.Data[configKey]), getenv)
	if err != nil {
		t.Fatalf("the gateway would refuse the chart's config: %v", err)
	}
	addr := flagValue(t, c.Args, "-addr")
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "127.0.0.1" || host == "localhost" {
		t.Errorf("-addr %q: the gateway must listen on the pod's address", addr)
	}
	var http *corev1.ContainerPort
	for i, p := range c.Ports {
		if p.Name == "http" {
			http = &c.Ports[i]
		}
	}
	if http == nil || fmt.Sprint(http.ContainerPort) != port {
		t.Fatalf("container ports %+v: want http on %s", c.Ports, port)
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort.String() != "http" {
		t.Errorf("Service ports %+v: want one targeting the http port", svc.Spec.Ports)
	}

	// Probes on the gateway's health endpoints and port.
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"readiness", c.ReadinessProbe, "/readyz"}, {"liveness", c.LivenessProbe, "/healthz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("no %s probe", p.name)
			continue
		}
		g := p.probe.HTTPGet
		if g.Path != p.path || (g.Port.String() != "http" && g.Port.String() != port) {
			t.Errorf("%s probe on %s port %s, want %s on %s", p.name, g.Path, g.Port.String(), p.path, port)
		}
	}

	// Shutdown: the kubelet waits for the preStop sleep, drain_delay and
	// shutdown_grace before it kills the pod.
	var sleep time.Duration
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
		if c.Lifecycle.PreStop.Sleep == nil {
			t.Errorf("preStop %+v: the image has no shell; only a sleep action runs", c.Lifecycle.PreStop)
		} else {
			sleep = time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
		}
	}
	need := sleep + cfg.Server.DrainDelay + cfg.Server.ShutdownGrace
	if g := pod.TerminationGracePeriodSeconds; g == nil || time.Duration(*g)*time.Second <= need {
		t.Errorf("terminationGracePeriodSeconds %v, want above preStop %v + drain_delay %v + shutdown_grace %v", g, sleep, cfg.Server.DrainDelay, cfg.Server.ShutdownGrace)
	}

	checkPodSecurity(t, "gateway", pod, c)
	if cfg.Server.DataDir == "" || !emptyDirAt(pod, c, cfg.Server.DataDir) {
		t.Errorf("data_dir %q is not an emptyDir mount (the root file system is read-only)", cfg.Server.DataDir)
	}
	if tiers := flagValue(t, c.Args, "-tiers"); mountAt(c, tiers) == "" {
		t.Errorf("the tiers file %s is on the read-only root file system", tiers)
	}
	for _, e := range c.Env {
		if regexp.MustCompile(`KEY|SECRET|TOKEN|PASSWORD|_URL$`).MatchString(e.Name) && e.Value != "" {
			t.Errorf("env %s is inlined (%q): secrets come from a Secret reference", e.Name, e.Value)
		}
	}
	if !strings.HasPrefix(d.Spec.Template.Annotations["checksum/config"], "") || len(d.Spec.Template.Annotations["checksum/config"]) != 64 {
		t.Errorf("no checksum/config annotation: a config change would not roll the pods")
	}
	return cfg
}

func checkPodSecurity(t *testing.T, who string, pod *corev1.PodSpec, c *corev1.Container) {
	t.Helper()
	ps, cs := pod.SecurityContext, c.SecurityContext
	if ps == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || ps.RunAsUser == nil || *ps.RunAsUser == 0 {
		t.Errorf("%s pod security %+v: want runAsNonRoot and a non-zero runAsUser", who, ps)
	}
	if cs == nil || cs.ReadOnlyRootFilesystem == nil || !*cs.ReadOnlyRootFilesystem || cs.AllowPrivilegeEscalation == nil || *cs.AllowPrivilegeEscalation ||
		cs.Capabilities == nil || !slices.Contains(cs.Capabilities.Drop, "ALL") {
		t.Errorf("%s container security %+v: want a read-only root, no privilege escalation, all capabilities dropped", who, cs)
	}
	if !emptyDirAt(pod, c, "/tmp") {
		t.Errorf("%s has no writable /tmp", who)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("%s mounts a service account token it does not use", who)
	}
}

func checkSecretRefs(t *testing.T, who string, env []corev1.EnvVar, want map[string][2]string) {
	t.Helper()
	for name, ref := range want {
		i := slices.IndexFunc(env, func(e corev1.EnvVar) bool { return e.Name == name })
		if i < 0 {
			t.Errorf("%s has no %s", who, name)
			continue
		}
		e := env[i]
		if e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			t.Errorf("%s env %s is %+v: want a Secret reference", who, name, e)
			continue
		}
		if got := [2]string{e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key}; got != ref {
			t.Errorf("%s env %s from %v, want %v", who, name, got, ref)
		}
	}
}

func podEnv(env []corev1.EnvVar, secrets map[string]string) func(string) string {
	return func(name string) string {
		for _, e := range env {
			if e.Name != name {
				continue
			}
			if e.ValueFrom != nil {
				if v, ok := secrets[name]; ok {
					return v
				}
				return "from-a-secret"
			}
			return e.Value
		}
		return ""
	}
}

func at(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return "(end)"
}

func envValue(env []corev1.EnvVar, name string) string {
	return podEnv(env, nil)(name)
}

func flagValue(t *testing.T, args []string, flag string) string {
	t.Helper()
	i := slices.Index(args, flag)
	if i < 0 || i+1 >= len(args) {
		t.Fatalf("args %v lack %s", args, flag)
	}
	return args[i+1]
}

func selects(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// mountAt is the volume whose mount holds path, "" if none.
func mountAt(c *corev1.Container, path string) string {
	best := ""
	var vol string
	for _, m := range c.VolumeMounts {
		if (path == m.MountPath || strings.HasPrefix(path, strings.TrimSuffix(m.MountPath, "/")+"/")) && len(m.MountPath) > len(best) {
			best, vol = m.MountPath, m.Name
		}
	}
	return vol
}

func volume(pod *corev1.PodSpec, name string) *corev1.Volume {
	for i := range pod.Volumes {
		if pod.Volumes[i].Name == name {
			return &pod.Volumes[i]
		}
	}
	return nil
}

func emptyDirAt(pod *corev1.PodSpec, c *corev1.Container, path string) bool {
	v := volume(pod, mountAt(c, path))
	return v != nil && v.EmptyDir != nil
}

func claimAt(pod *corev1.PodSpec, c *corev1.Container, path string) string {
	v := volume(pod, mountAt(c, path))
	if v == nil || v.PersistentVolumeClaim == nil {
		return ""
	}
	return v.PersistentVolumeClaim.ClaimName
}

// mountedFrom reports whether file path in container c is key of ConfigMap
// cm.
func mountedFrom(pod *corev1.PodSpec, c *corev1.Container, path, cm, key string) bool {
	v := volume(pod, mountAt(c, path))
	if v == nil || v.ConfigMap == nil || v.ConfigMap.Name != cm {
		return false
	}
	for _, m := range c.VolumeMounts {
		if m.Name == v.Name {
			return path == strings.TrimSuffix(m.MountPath, "/")+"/"+key
		}
	}
	return false
}

// copyChart copies the chart (following its symlink to the default
// config) into a temporary directory.
func copyChart(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), chartDir)
	err := filepath.WalkDir(chartDir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(chartDir, p)
		if e.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func edit(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s has no %q", path, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestStrictDecodeCatchesTypos misspells a field in copies of the chart
// and checks that decoding the rendering fails, naming the field: what a
// lenient decode (or kubectl apply with its warnings) would let through.
func TestStrictDecodeCatchesTypos(t *testing.T) {
	cases := []struct{ file, old, new string }{
		{"templates/deployment.yaml", "readinessProbe:", "readinesProbe:"},
		{"templates/cronjob-bench.yaml", "concurrencyPolicy:", "concurencyPolicy:"},
		{"templates/servicemonitor.yaml", "interval:", "intervall:"},
		{"templates/hpa.yaml", "averageUtilization:", "averageUtilisation:"},
	}
	for _, tc := range cases {
		t.Run(tc.new, func(t *testing.T) {
			dir := copyChart(t)
			if _, err := decodeDir(dir); err != nil {
				t.Fatalf("the unchanged copy does not decode: %v", err)
			}
			edit(t, filepath.Join(dir, tc.file), tc.old, tc.new)
			_, err := decodeDir(dir)
			if err == nil || !strings.Contains(err.Error(), strings.TrimSuffix(tc.new, ":")) {
				t.Errorf("decoding a chart with %s misspelt as %s: %v, want an error naming it", tc.old, tc.new, err)
			}
		})
	}
}

func decodeDir(dir string) (*objects, error) {
	files, err := render(dir, allOn())
	if err != nil {
		return nil, err
	}
	return decode(files)
}

// TestConfigTheGatewayRefuses checks that the tests load the chart's
// config the way the gateway does: a config value with an unknown key
// renders, and the gateway's loader refuses it; a drain delay the chart
// cannot read stops the rendering with the reason.
func TestConfigTheGatewayRefuses(t *testing.T) {
	o := mustRender(t, map[string]any{"config": "server:\n  drain_delay: 5s\n  shutdown_grace: 1m30s\n  bogus: 1\n"})
	d := o.Deployments[0]
	if g := d.Spec.Template.Spec.TerminationGracePeriodSeconds; g == nil || *g != 5+90+2+5 {
		t.Errorf("terminationGracePeriodSeconds %v, want 102 (5s + 1m30s + 2s + 5s)", g)
	}
	_, err := config.Load("chart", []byte(o.ConfigMaps[0].Data[configKey]), podEnv(d.Spec.Template.Spec.Containers[0].Env, nil))
	if err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Errorf("config.Load of a config with an unknown key: %v, want an error naming it", err)
	}

	_, err = render(chartDir, map[string]any{"config": "server:\n  drain_delay: ${DRAIN:-5s}\n"})
	if err == nil || !strings.Contains(err.Error(), "plain durations") {
		t.Errorf("a ${VAR} drain delay rendered: %v", err)
	}
	if errors.Is(err, fs.ErrNotExist) {
		t.Error(err)
	}
}

// TestValuesSchema checks that values.schema.json refuses a misspelt or
// wrong value instead of ignoring it.
func TestValuesSchema(t *testing.T) {
	for _, tc := range []struct {
		vals map[string]any
		want string
	}{
		{map[string]any{"autoscalling": map[string]any{"enabled": true}}, "autoscalling"},
		{map[string]any{"auth": map[string]any{"mode": "open"}}, "mode"},
		{map[string]any{"state": map[string]any{"redis": map[string]any{"url": "redis://x"}}}, "url"},
		{map[string]any{"auth": map[string]any{"keys": []any{map[string]any{"name": "ci", "key": "tg-inline"}}}}, "key"},
	} {
		_, err := render(chartDir, tc.vals)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("values %v: %v, want a schema error naming %s", tc.vals, err, tc.want)
		}
	}
}
