package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/breakglass-dev/breakglass/internal/exec"
)

// runInProcess runs the command tree in this process with args, as Main
// does, and returns stdout, stderr and the exit code. The environment is
// the test's (see isolateEnv).
func runInProcess(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	ios := &IOStreams{In: os.Stdin, Out: &out, Err: &errb}
	root := newRootCmd(ios)
	if args == nil {
		args = []string{} // nil would make cobra read os.Args
	}
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	if err != nil {
		printError(&errb, err)
	}
	return out.String(), errb.String(), exitCode(err)
}

// isolateEnv gives the test an environment that reaches no AWS account and
// no user file: empty shared config and credentials files, no profile,
// region, endpoint, credentials or breakglass variables, and fresh config
// and cache folders. It returns the test's home folder.
func isolateEnv(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "AWS_") || strings.HasPrefix(name, "BREAKGLASS_") ||
			strings.HasPrefix(name, "XDG_") || name == "NO_COLOR" {
			t.Setenv(name, "") // restored after the test
			os.Unsetenv(name)
		}
	}
	awsConfig := filepath.Join(home, "aws-config")
	awsCreds := filepath.Join(home, "aws-credentials")
	for _, f := range []string{awsConfig, awsCreds} {
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, "config"))
	t.Setenv("XDG_CACHE_HOME", filepath.Join(home, "cache"))
	t.Setenv("AWS_CONFIG_FILE", awsConfig)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", awsCreds)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return home
}

// writeFile writes content to path, creating its folder.
func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeUserConfig writes the config file at its default location.
func writeUserConfig(t *testing.T, content string) string {
	t.Helper()
	return writeFile(t, filepath.Join(os.Getenv("XDG_CONFIG_HOME"), "breakglass", "config.yaml"), content)
}

func TestHelpOfEveryCommand(t *testing.T) {
	isolateEnv(t)
	tests := []struct {
		name string
		args []string
	}{
		{"root", []string{"--help"}},
		{"open", []string{"open", "--help"}},
		{"status", []string{"status", "--help"}},
		{"close", []string{"close", "--help"}},
		{"config", []string{"config", "--help"}},
		{"completion", []string{"completion", "--help"}},
		{"sandbox", []string{"sandbox", "--help"}},
		{"version", []string{"version", "--help"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runInProcess(t, tt.args...)
			if code != 0 || stderr != "" {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			golden(t, "help/"+tt.name+".txt", stdout)
		})
	}
}

func TestRootHelpDocumentsTheExitCodes(t *testing.T) {
	isolateEnv(t)
	stdout, _, _ := runInProcess(t, "--help")
	if !strings.Contains(stdout, exitCodesHelp) {
		t.Errorf("breakglass --help lacks the exit codes:\n%s", stdout)
	}
	// breakglass with no arguments shows the same help, successfully.
	bare, _, code := runInProcess(t)
	if code != 0 || bare != stdout {
		t.Errorf("bare breakglass: exit %d, output differs from --help:\n%s", code, bare)
	}
}

func TestEveryCommandHasExamples(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" {
			return
		}
		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("%q has no examples", c.CommandPath())
		}
		if c.Short == "" {
			t.Errorf("%q has no short description", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCmd(&IOStreams{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}}))
}

// stubBuild sets the variables the release build stamps, for one test.
func stubBuild(t *testing.T, v, c, d string) {
	t.Helper()
	oldV, oldC, oldD := version, commit, date
	version, commit, date = v, c, d
	t.Cleanup(func() { version, commit, date = oldV, oldC, oldD })
}

// maskRuntime replaces what depends on the toolchain and the machine, so
// that the golden files survive a Go upgrade.
func maskRuntime(t *testing.T, s string) string {
	t.Helper()
	for _, r := range []struct{ real, mask string }{
		{runtime.Version(), "GOVERSION"},
		{runtime.GOOS + "/" + runtime.GOARCH, "GOOS/GOARCH"},
		{exec.PluginVersion(), "PLUGINVERSION"},
	} {
		if !strings.Contains(s, r.real) {
			t.Errorf("output lacks %s (%q):\n%s", r.mask, r.real, s)
		}
		s = strings.ReplaceAll(s, r.real, r.mask)
	}
	return s
}

func TestVersionShowsTheStampedBuild(t *testing.T) {
	isolateEnv(t)
	stubBuild(t, "1.4.2", "0123456789abcdef0123456789abcdef01234567", "2026-12-01T10:00:00Z")

	stdout, stderr, code := runInProcess(t, "version")
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	golden(t, "version.txt", maskRuntime(t, stdout))

	stdout, _, code = runInProcess(t, "version", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	golden(t, "version.json", maskRuntime(t, stdout))
	var b buildInfo
	if err := json.Unmarshal([]byte(stdout), &b); err != nil {
		t.Fatal(err)
	}
	if b.Version != "1.4.2" || b.Commit != "0123456789abcdef0123456789abcdef01234567" ||
		b.Date != "2026-12-01T10:00:00Z" || b.PluginVersion == "" || b.GoVersion == "" {
		t.Errorf("unexpected build info %+v", b)
	}
}

func TestVersionOfAnUnstampedBuild(t *testing.T) {
	isolateEnv(t)
	stubBuild(t, "", "", "")
	stdout, _, code := runInProcess(t, "version", "-o", "json")
	var b buildInfo
	if err := json.Unmarshal([]byte(stdout), &b); err != nil || code != 0 {
		t.Fatalf("exit %d, %v: %s", code, err, stdout)
	}
	// A test binary has no module version: 'dev' stands in, never "".
	if b.Version != "dev" {
		t.Errorf("version = %q, want dev", b.Version)
	}
}

func TestVersionRejectsAnUnknownFormat(t *testing.T) {
	isolateEnv(t)
	_, stderr, code := runInProcess(t, "version", "-o", "yaml")
	if code != exitUsage || !strings.Contains(stderr, `unknown output format "yaml"`) {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}
