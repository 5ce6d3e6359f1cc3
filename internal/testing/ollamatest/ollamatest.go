// Package ollamatest runs a real Ollama server on loopback for tests, serving
// a tiny generated llama model (internal/tinygguf), so that code speaking
// Ollama's native and OpenAI-compatible APIs is tested against the real
// thing without downloading weights.
//
// Start finds or builds the ollama binary through scripts/ensure-ollama.sh
// (the first build takes 10 to 25 minutes on 2 cores; run such a first test
// with -timeout 60m, later runs reuse the cached binary). When the binary
// cannot be obtained the test fails, unless TIERGATE_SKIP_OLLAMA=1 is set:
// then no build is attempted, a binary already on PATH or in the cache is
// used, and without one the test is skipped.
//
// It is test support: only _test.go files should import it. It imports
// internal/tinygguf and the standard library, nothing else of tiergate.
package ollamatest

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/testing/freeport"
	"github.com/tiergate/tiergate/internal/testing/proc"
	"github.com/tiergate/tiergate/internal/testing/tinygguf"
)

// SkipEnv is the environment variable that turns "ollama unavailable" from
// a failure into a skip.
const SkipEnv = "TIERGATE_SKIP_OLLAMA"

// DefaultTemplate is the chat template the model is created with: one
// "<|role|>" header line per message, then "<|assistant|>".
const DefaultTemplate = `{{- range .Messages }}<|{{ .Role }}|>
{{ .Content }}
{{ end }}<|assistant|>
`

// Options configures Start. The zero value is ready to use.
type Options struct {
	// Name is the model name given to `ollama create`. Default "tiny";
	// Server.Model is Name + ":latest".
	Name string
	// Model shapes the generated GGUF (tinygguf's defaults when zero).
	Model tinygguf.Options
	// Template is the Modelfile TEMPLATE (Go text/template in Ollama's
	// dialect). Default DefaultTemplate.
	Template string
	// NumCtx is PARAMETER num_ctx. Default 512.
	NumCtx int
	// NumPredict is PARAMETER num_predict, the default generation limit.
	// Default 32; negative leaves it unset. The tiny model practically
	// never emits </s>, so without a limit a request with no
	// options.num_predict or max_tokens generates until the client stops.
	NumPredict int
	// Env is appended to the server's environment (e.g.
	// "OLLAMA_NUM_PARALLEL=2"). OLLAMA_* variables of the test process are
	// not inherited.
	Env []string
	// BuildTimeout bounds scripts/ensure-ollama.sh. Default 40 minutes.
	BuildTimeout time.Duration
	// StartTimeout bounds starting `ollama serve` until it answers, and
	// then `ollama create`, each. Default 2 minutes.
	StartTimeout time.Duration
}

func (o Options) withDefaults() Options {
	o.Name = cmp.Or(o.Name, "tiny")
	o.Template = cmp.Or(o.Template, DefaultTemplate)
	o.NumCtx = cmp.Or(o.NumCtx, 512)
	o.NumPredict = cmp.Or(o.NumPredict, 32)
	o.BuildTimeout = cmp.Or(o.BuildTimeout, 40*time.Minute)
	o.StartTimeout = cmp.Or(o.StartTimeout, 2*time.Minute)
	return o
}

// Server is a running Ollama server. It stops when the test ends.
type Server struct {
	// URL is the base URL, http://127.0.0.1:<port>, without a trailing
	// slash. Native API under /api/, OpenAI-compatible under /v1/.
	URL string
	// Model is the created model's full name, e.g. "tiny:latest".
	Model string
	// Bin is the ollama binary used.
	Bin string
	// Dir is the temporary directory holding the model store, the GGUF,
	// the Modelfile and the logs.
	Dir string
	// LogPath is the server's combined stdout and stderr.
	LogPath string
}

// Start starts `ollama serve` on a free loopback port with a fresh model
// store, creates the tiny model in it and returns once both are ready. It
// registers cleanup that stops the server (SIGTERM, then SIGKILL to its
// process group after 15 s) and waits for it; if the test failed, the tail
// of the server log is printed.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	o = o.withDefaults()
	mf, err := modelfile(o)
	if err != nil {
		t.Fatalf("ollamatest: %v", err)
	}
	dir := t.TempDir()
	bin := findBinary(t, o, dir)

	home := filepath.Join(dir, "home")
	models := filepath.Join(dir, "models")
	for _, d := range []string{home, models} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatalf("ollamatest: %v", err)
		}
	}
	if err := tinygguf.WriteFile(filepath.Join(dir, "tiny.gguf"), o.Model); err != nil {
		t.Fatalf("ollamatest: writing model: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Modelfile"), []byte(mf), 0o644); err != nil {
		t.Fatalf("ollamatest: %v", err)
	}

	s := &Server{Model: o.Name + ":latest", Bin: bin, Dir: dir, LogPath: filepath.Join(dir, "serve.log")}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("ollamatest: tail of %s:\n%s", s.LogPath, tailFile(s.LogPath, 60))
		}
	})

	began := time.Now()
	var host string
	for attempt := 1; ; attempt++ {
		addr, err := freeport.Addr()
		if err != nil {
			t.Fatalf("ollamatest: %v", err)
		}
		host = addr
		s.URL = "http://" + host
		env := serverEnv(os.Environ(), host, models, home, o.Env)
		p, err := startProcess(bin, dir, s.LogPath, env)
		if err != nil {
			t.Fatalf("ollamatest: starting %s serve: %v", bin, err)
		}
		t.Cleanup(func() {
			if err := p.stop(15 * time.Second); err != nil {
				t.Errorf("ollamatest: stopping ollama serve: %v", err)
			}
		})
		err = proc.Ready(s.URL+"/api/version", p.exited, o.StartTimeout)
		if err == nil {
			break
		}
		if errors.Is(err, proc.ErrExited) && attempt < 3 && strings.Contains(tailFile(s.LogPath, 20), "address already in use") {
			continue // lost a race for the port
		}
		if errors.Is(err, proc.ErrExited) {
			err = fmt.Errorf("%w: %v", err, p.waitErr)
		}
		t.Fatalf("ollamatest: ollama serve on %s: %v", host, err)
	}
	ready := time.Since(began)

	ctx, cancel := context.WithTimeout(context.Background(), o.StartTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "create", o.Name, "-f", "Modelfile")
	cmd.Dir = dir
	cmd.Env = serverEnv(os.Environ(), host, models, home, o.Env)
	if out, err := cmd.CombinedOutput(); err != nil {
		out = ansi.ReplaceAll(out, nil) // progress spinner
		t.Fatalf("ollamatest: ollama create %s: %v\n%s", o.Name, err, tail(out, 20))
	}
	t.Logf("ollamatest: %s serving %s at %s (server ready in %v, model created in %v)",
		bin, s.Model, s.URL, ready.Round(time.Millisecond), (time.Since(began) - ready).Round(time.Millisecond))
	return s
}

// findBinary runs scripts/ensure-ollama.sh and returns the path it prints.
func findBinary(t testing.TB, o Options, dir string) string {
	t.Helper()
	skip := os.Getenv(SkipEnv) == "1"
	unavailable := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...)
		if skip {
			t.Skipf("ollamatest: ollama unavailable and %s=1, skipping: %s", SkipEnv, msg)
		}
		t.Fatalf("ollamatest: ollama unavailable (set %s=1 to skip instead of failing): %s", SkipEnv, msg)
	}
	wd, err := os.Getwd()
	if err != nil {
		unavailable("%v", err)
	}
	root, err := repoRoot(wd)
	if err != nil {
		unavailable("%v", err)
	}
	script := filepath.Join(root, "scripts", "ensure-ollama.sh")
	ctx, cancel := context.WithTimeout(context.Background(), o.BuildTimeout)
	defer cancel()
	logPath := filepath.Join(dir, "ensure-ollama.log")
	logf, err := os.Create(logPath)
	if err != nil {
		unavailable("%v", err)
	}
	defer logf.Close()
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Dir = root
	cmd.Stderr = logf
	if skip {
		cmd.Env = append(os.Environ(), "TIERGATE_OLLAMA_NO_BUILD=1")
	}
	began := time.Now()
	out, err := cmd.Output()
	if err != nil {
		unavailable("%s: %v (after %v)\n%s", script, err, time.Since(began).Round(time.Second), tailFile(logPath, 30))
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	bin := strings.TrimSpace(lines[len(lines)-1])
	if fi, err := os.Stat(bin); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		unavailable("%s printed %q, which is not an executable", script, bin)
	}
	if d := time.Since(began); d > 10*time.Second {
		t.Logf("ollamatest: obtained %s in %v", bin, d.Round(time.Second))
	}
	return bin
}

// repoRoot walks up from dir to the directory holding go.mod and
// scripts/ensure-ollama.sh.
func repoRoot(dir string) (string, error) {
	for d := dir; ; {
		if exists(filepath.Join(d, "go.mod")) && exists(filepath.Join(d, "scripts", "ensure-ollama.sh")) {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("no go.mod with scripts/ensure-ollama.sh above %s", dir)
		}
		d = parent
	}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// modelfile renders the Modelfile for o (with defaults applied).
func modelfile(o Options) (string, error) {
	if strings.Contains(o.Template, `"""`) {
		return "", errors.New(`template must not contain """`)
	}
	if o.NumCtx < 0 {
		return "", fmt.Errorf("NumCtx %d is negative", o.NumCtx)
	}
	var b strings.Builder
	b.WriteString("FROM ./tiny.gguf\n")
	fmt.Fprintf(&b, "TEMPLATE \"\"\"%s\"\"\"\n", o.Template)
	fmt.Fprintf(&b, "PARAMETER num_ctx %d\n", o.NumCtx)
	if o.NumPredict > 0 {
		fmt.Fprintf(&b, "PARAMETER num_predict %d\n", o.NumPredict)
	}
	return b.String(), nil
}

// serverEnv is base without OLLAMA_* variables, plus the server settings,
// plus extra.
func serverEnv(base []string, host, models, home string, extra []string) []string {
	var env []string
	for _, kv := range base {
		if strings.HasPrefix(kv, "OLLAMA_") || strings.HasPrefix(kv, "HOME=") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "OLLAMA_HOST="+host, "OLLAMA_MODELS="+models, "HOME="+home)
	return append(env, extra...)
}

// ansi matches the terminal control sequences of the ollama CLI's progress
// display.
var ansi = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`)

// process is a started `ollama serve`.
type process struct {
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error // set before exited is closed
	log     *os.File
}

func startProcess(bin, dir, logPath string, env []string) (*process, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve")
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logf, logf
	setProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	p := &process{cmd: cmd, exited: make(chan struct{}), log: logf}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// stop sends SIGTERM and waits up to grace for the server to exit, then
// kills its process group (the server and any model runner it started) and
// waits again.
func (p *process) stop(grace time.Duration) error {
	defer p.log.Close()
	select {
	case <-p.exited:
		return nil // already gone; proc.Ready reported why
	default:
	}
	if err := terminate(p.cmd); err != nil {
		if errors.Is(err, os.ErrProcessDone) { // it exited since the check above
			<-p.exited
			return nil
		}
		return err
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-p.exited:
		return nil
	case <-timer.C:
	}
	killGroup(p.cmd)
	select {
	case <-p.exited:
		return fmt.Errorf("did not exit within %v of SIGTERM; killed", grace)
	case <-time.After(10 * time.Second):
		return errors.New("did not exit even after SIGKILL")
	}
}

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	return tail(b, n)
}

// tail returns the last n lines of b.
func tail(b []byte, n int) string {
	b = bytes.TrimRight(b, "\n")
	i := len(b)
	for range n {
		j := bytes.LastIndexByte(b[:i], '\n')
		if j < 0 {
			return string(b)
		}
		i = j
	}
	return string(b[i+1:])
}
