package exec

import (
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary plays three parts: the test itself, the session child
// (started by Run, recognised by IsChild) and, for the terminal tests, a
// supervisor that runs Run inside a pty the test drives.
const (
	envTestSupervisor = "BGTEST_SUPERVISOR"
	envTestSession    = "BGTEST_SESSION_JSON"
	envTestResult     = "BGTEST_RESULT"
	envTestGrace      = "BGTEST_GRACE"
	envTestIgnoreTerm = "BGTEST_CHILD_IGNORE_TERM" // the child ignores SIGTERM
	envTestSigIgnFile = "BGTEST_CHILD_SIGIGN_FILE" // the child records its ignored signals
	envTestPanic      = "BGTEST_PANIC"             // the supervisor panics in Run
)

func TestMain(m *testing.M) {
	if IsChild() {
		childTestHooks()
		os.Exit(RunChild())
	}
	if os.Getenv(envTestSupervisor) == "1" && testSupervisor != nil {
		os.Exit(testSupervisor())
	}
	os.Exit(m.Run())
}

// testSupervisor is the supervisor part, on the platforms that have the
// terminal tests.
var testSupervisor func() int

func childTestHooks() {
	if path := os.Getenv(envTestSigIgnFile); path != "" {
		status, _ := os.ReadFile("/proc/self/status")
		for _, line := range strings.Split(string(status), "\n") {
			if strings.HasPrefix(line, "SigIgn:") {
				_ = os.WriteFile(path, []byte(strings.TrimSpace(line[len("SigIgn:"):])), 0o600)
			}
		}
	}
	if os.Getenv(envTestIgnoreTerm) == "1" {
		signal.Ignore(syscall.SIGTERM)
	}
}

// hermeticEnv is the environment for processes the tests start: nothing
// from the developer's AWS setup, no way to reach AWS, and race reports in a
// file instead of on the terminal under test.
func hermeticEnv(t *testing.T, extra ...string) []string {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config")
	creds := filepath.Join(dir, "credentials")
	for _, f := range []string{cfg, creds} {
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "BGTEST_") || k == "GORACE" ||
			strings.HasPrefix(k, "BREAKGLASS_") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE="+cfg,
		"AWS_SHARED_CREDENTIALS_FILE="+creds,
		"AWS_ACCESS_KEY_ID=test",
		"AWS_SECRET_ACCESS_KEY=test",
		"AWS_REGION=us-east-1",
		"GORACE=atexit_sleep_ms=0 log_path="+filepath.Join(dir, "race"),
	)
	return append(env, extra...)
}

// waitFor polls cond until it holds; the deadline only keeps a broken test
// from hanging, it measures nothing.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func waitClosed(t *testing.T, what string, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(20 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}
