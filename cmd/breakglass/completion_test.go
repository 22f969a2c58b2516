//go:build !windows

package main

import (
	"crypto/sha1"
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/breakglass-dev/breakglass/internal/sandbox"
)

// startSandbox starts a sandbox on a free loopback port, closed with the
// test, and points the test's environment at it (after isolateEnv).
func startSandbox(t *testing.T) *sandbox.Server {
	t.Helper()
	cfg := sandbox.Defaults()
	cfg.Addr = ""
	sb, err := sandbox.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	for _, kv := range sb.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	return sb
}

// complete runs Cobra's hidden __complete command, as the shell scripts
// do, and returns the completions and the directive line.
func complete(t *testing.T, args ...string) (completions []string, directive string) {
	t.Helper()
	stdout, stderr, code := runInProcess(t, append([]string{"__complete"}, args...)...)
	if code != 0 {
		t.Fatalf("__complete %q: exit %d, stderr %q", args, code, stderr)
	}
	if strings.Contains(stderr, "breakglass:") {
		t.Errorf("__complete %q printed a message: %q", args, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	directive = lines[len(lines)-1]
	return lines[:len(lines)-1], directive
}

// apiCalls counts the API calls the sandbox has served.
func apiCalls(sb *sandbox.Server) int {
	n := 0
	for _, m := range sb.Marks() {
		if m.Kind == sandbox.MarkAPICall {
			n++
		}
	}
	return n
}

const noFileComp = ":4" // cobra.ShellCompDirectiveNoFileComp

func TestCompletionOfEnvironmentsAndServices(t *testing.T) {
	isolateEnv(t)
	sb := startSandbox(t)
	writeUserConfig(t, "environments:\n  PROD:\n    profile: prod\n    region: eu-west-1\n")

	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"ENV lists the config file's and the region's environments", []string{"open", ""},
			[]string{"DEMO\tcluster breakglass-ECS-DEMO", "PROD\tconfig file: profile prod, eu-west-1"}},
		{"ENV is filtered by what is typed", []string{"status", "D"},
			[]string{"DEMO\tcluster breakglass-ECS-DEMO"}},
		{"SERVICE lists only breakglass services", []string{"open", "DEMO", ""},
			[]string{"EFS-Util\tservice breakglass-EFS-Util-DEMO", "NoExec\tservice breakglass-NoExec-DEMO"}},
		{"SERVICE is filtered by what is typed", []string{"close", "DEMO", "E"},
			[]string{"EFS-Util\tservice breakglass-EFS-Util-DEMO"}},
		{"status completes SERVICE too", []string{"status", "DEMO", "N"},
			[]string{"NoExec\tservice breakglass-NoExec-DEMO"}},
		{"nothing follows SERVICE", []string{"open", "DEMO", "EFS-Util", ""}, nil},
		{"an unknown environment completes no service", []string{"open", "NOPE", ""}, nil},
		{"config completes ENV from the file alone", []string{"config", ""},
			[]string{"PROD\tconfig file: profile prod, eu-west-1"}},
		{"-o completes the formats", []string{"status", "-o", ""}, []string{"table", "json"}},
		{"commands complete with descriptions", []string{"sta"},
			[]string{"status\tShow breakglass services, their tasks, and who holds them open"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, directive := complete(t, tt.args...)
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if directive != noFileComp {
				t.Errorf("directive %s, want %s (no file names)", directive, noFileComp)
			}
		})
	}
	_ = sb
}

func TestCompletionAnswersFromTheCacheWithinItsLifetime(t *testing.T) {
	isolateEnv(t)
	sb := startSandbox(t)

	first, _ := complete(t, "open", "DEMO", "")
	calls := apiCalls(sb)
	second, _ := complete(t, "open", "DEMO", "")
	if !slices.Equal(first, second) || len(first) != 2 {
		t.Fatalf("first %q, second %q", first, second)
	}
	if n := apiCalls(sb) - calls; n != 0 {
		t.Errorf("the second completion made %d API calls, want 0", n)
	}

	// The cache outlives the sandbox; a new cache folder does not.
	sb.Close()
	if third, _ := complete(t, "open", "DEMO", ""); !slices.Equal(third, first) {
		t.Errorf("from the cache: %q, want %q", third, first)
	}
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	if fresh, _ := complete(t, "open", "DEMO", ""); len(fresh) != 0 {
		t.Errorf("with the sandbox gone and no cache: %q, want nothing", fresh)
	}
}

func TestCompletionCacheKeysOnTheEndpointAndSettings(t *testing.T) {
	isolateEnv(t)
	sb := startSandbox(t)
	complete(t, "open", "")
	calls := apiCalls(sb)

	// Another region is another answer: ask again.
	complete(t, "--region", "us-east-1", "open", "")
	complete(t, "--project", "other", "open", "")
	if n := apiCalls(sb) - calls; n == 0 {
		t.Errorf("other settings were answered from the cache")
	}
}

func TestCompletionGivesUpOnAnEndpointThatDoesNotAnswer(t *testing.T) {
	isolateEnv(t)
	startSandbox(t) // for the credentials and region
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var held []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c) // accept, then never answer
		}
	}()
	t.Setenv("AWS_ENDPOINT_URL", "http://"+ln.Addr().String())

	start := time.Now()
	got, directive := complete(t, "open", "")
	// A hang guard, not a performance assertion: the SDK's own timeouts
	// are minutes long, so this fails only if the time box is missing.
	if elapsed := time.Since(start); elapsed > 15*time.Second {
		t.Errorf("completion took %v", elapsed)
	}
	if len(got) != 0 || directive != noFileComp {
		t.Errorf("got %q %s, want nothing", got, directive)
	}
}

func TestCompletionWithoutCredentialsCompletesTheConfigFileOnly(t *testing.T) {
	isolateEnv(t)
	writeUserConfig(t, "environments:\n  PROD: {}\n")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1") // nothing listens there
	got, _ := complete(t, "open", "")
	if !slices.Equal(got, []string{"PROD\tconfig file"}) {
		t.Errorf("got %q", got)
	}
}

func TestCompletionOfProfiles(t *testing.T) {
	home := isolateEnv(t)
	writeFile(t, os.Getenv("AWS_CONFIG_FILE"),
		"[default]\nregion = us-east-1\n[profile prod]\nsso_session = corp\n[sso-session corp]\n[profile dev ]\n")
	writeFile(t, os.Getenv("AWS_SHARED_CREDENTIALS_FILE"), "[ci]\naws_access_key_id = x\n[prod]\n")
	got, directive := complete(t, "--profile", "")
	if want := []string{"ci", "default", "dev", "prod"}; !slices.Equal(got, want) || directive != noFileComp {
		t.Errorf("got %q %s, want %q", got, directive, want)
	}
	if got, _ := complete(t, "--profile", "d"); !slices.Equal(got, []string{"default", "dev"}) {
		t.Errorf("with a prefix: %q", got)
	}
	_ = home
}

func TestCompletionScripts(t *testing.T) {
	isolateEnv(t)
	for _, shell := range completionShells {
		t.Run(shell, func(t *testing.T) {
			stdout, stderr, code := runInProcess(t, "completion", shell)
			if code != 0 || stderr != "" {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			// Every script asks the binary through __complete.
			if !strings.Contains(stdout, "__complete") || !strings.Contains(stdout, "breakglass") {
				t.Errorf("the %s script does not call breakglass __complete", shell)
			}
		})
	}
	if _, _, code := runInProcess(t, "completion"); code != exitUsage {
		t.Errorf("completion without a shell: exit %d, want %d", code, exitUsage)
	}
}

func TestCompletionCacheExpires(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	c := &completionCache{dir: t.TempDir(), ttl: time.Minute, now: func() time.Time { return now }}
	c.put("k", []string{"a", "b"})

	tests := []struct {
		name  string
		after time.Duration
		hit   bool
	}{
		{"a fresh entry is a hit", 30 * time.Second, true},
		{"an entry at its lifetime is a hit", time.Minute, true},
		{"an old entry is a miss", time.Minute + time.Second, false},
		{"an entry from the future (a clock set back) is a miss", -time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := now.Add(tt.after)
			c2 := &completionCache{dir: c.dir, ttl: c.ttl, now: func() time.Time { return at }}
			got, hit := c2.get("k")
			if hit != tt.hit || hit && !slices.Equal(got, []string{"a", "b"}) {
				t.Errorf("get = %q, %v; want hit %v", got, hit, tt.hit)
			}
		})
	}
	if _, hit := c.get("other"); hit {
		t.Error("an unknown key is a hit")
	}
	writeFile(t, c.path("bad"), "{not json")
	if _, hit := c.get("bad"); hit {
		t.Error("a corrupt entry is a hit")
	}
	off := &completionCache{}
	off.put("k", nil)
	if _, hit := off.get("k"); hit {
		t.Error("a cache without a folder is a hit")
	}
	entries, _ := filepath.Glob(filepath.Join(c.dir, "*.tmp"))
	if len(entries) != 0 {
		t.Errorf("temporary files left behind: %q", entries)
	}
}

// The tests below run commands against the sandbox to show that settings
// from the config file reach AWS, and that a mistyped environment gets a
// suggestion.

func TestTheConfigFileRegionReachesAWS(t *testing.T) {
	isolateEnv(t)
	startSandbox(t)
	os.Unsetenv("AWS_REGION")
	os.Unsetenv("AWS_DEFAULT_REGION")

	if _, stderr, code := runInProcess(t, "status", "DEMO"); code != exitAccess {
		t.Fatalf("without a region: exit %d, stderr %q; want %d", code, stderr, exitAccess)
	}
	writeUserConfig(t, "environments:\n  DEMO:\n    region: us-east-1\n")
	stdout, stderr, code := runInProcess(t, "status", "DEMO")
	if code != 0 || !strings.Contains(stdout, "EFS-Util") {
		t.Errorf("with the region in the file: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func TestTheConfigFileProfileReachesAWS(t *testing.T) {
	isolateEnv(t)
	startSandbox(t)
	for _, k := range []string{"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
		os.Unsetenv(k)
	}
	writeFile(t, os.Getenv("AWS_CONFIG_FILE"), "[profile sbx]\nregion = us-east-1\n")
	writeFile(t, os.Getenv("AWS_SHARED_CREDENTIALS_FILE"),
		"[sbx]\naws_access_key_id = sandbox\naws_secret_access_key = sandbox\n")
	path := writeUserConfig(t, "environments:\n  DEMO:\n    profile: sbx\n  OTHER:\n    profile: nosuch\n")

	stdout, stderr, code := runInProcess(t, "status", "DEMO")
	if code != 0 || !strings.Contains(stdout, "EFS-Util") {
		t.Errorf("profile sbx from the file: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}

	_, stderr, code = runInProcess(t, "status", "OTHER")
	if want := `AWS profile "nosuch" (set by ` + path + `:5 (environments.OTHER.profile)) is not in the shared config`; code != exitAccess || !strings.Contains(stderr, want) {
		t.Errorf("a missing profile: exit %d, stderr %q; want %d and %q", code, stderr, exitAccess, want)
	}
}

func TestAnExpiredSSOSessionOfTheFilesProfileSaysHowToLogIn(t *testing.T) {
	home := isolateEnv(t)
	startSandbox(t) // every endpoint is the sandbox: nothing can reach AWS
	os.Unsetenv("AWS_ACCESS_KEY_ID")
	os.Unsetenv("AWS_SECRET_ACCESS_KEY")
	writeFile(t, os.Getenv("AWS_CONFIG_FILE"), `[profile corp]
sso_session = corp
sso_account_id = 000000000000
sso_role_name = Breakglass
region = us-east-1
[sso-session corp]
sso_start_url = https://corp.awsapps.example/start
sso_region = us-east-1
`)
	// The SDK's token cache: an expired token that cannot be refreshed.
	sum := sha1.Sum([]byte("corp"))
	writeFile(t, filepath.Join(home, ".aws", "sso", "cache", hex.EncodeToString(sum[:])+".json"),
		`{"accessToken": "expired", "expiresAt": "2020-01-01T00:00:00Z"}`)
	writeUserConfig(t, "environments:\n  DEMO:\n    profile: corp\n")

	_, stderr, code := runInProcess(t, "status", "DEMO")
	if want := "aws sso login --profile corp"; code != exitAccess || !strings.Contains(stderr, want) {
		t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, exitAccess, want)
	}
}

func TestAVariableOverridingTheFileIsReported(t *testing.T) {
	isolateEnv(t)
	startSandbox(t)
	writeUserConfig(t, "environments:\n  DEMO:\n    region: eu-west-1\n")

	// The sandbox exports AWS_REGION=us-east-1, which wins.
	_, stderr, code := runInProcess(t, "status", "DEMO")
	if want := "breakglass: using region us-east-1 from AWS_REGION, not eu-west-1 from "; code != 0 ||
		!strings.Contains(stderr, want) {
		t.Errorf("exit %d, stderr %q; want %q", code, stderr, want)
	}
	if _, stderr, _ := runInProcess(t, "-q", "status", "DEMO"); stderr != "" {
		t.Errorf("with --quiet: stderr %q", stderr)
	}
}

func TestTheSandboxKeysBeatTheFilesProfile(t *testing.T) {
	isolateEnv(t)
	startSandbox(t)
	// A real profile the sandbox shell must not reach for.
	writeUserConfig(t, "environments:\n  DEMO:\n    profile: corp-sso\n")
	stdout, stderr, code := runInProcess(t, "status", "DEMO")
	if code != 0 || !strings.Contains(stdout, "EFS-Util") ||
		!strings.Contains(stderr, "using the credentials in AWS_ACCESS_KEY_ID, not profile corp-sso") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func TestAnUnknownEnvironmentSuggestsTheNearest(t *testing.T) {
	isolateEnv(t)
	startSandbox(t)
	writeUserConfig(t, "environments:\n  PROD:\n    region: us-east-1\n")
	tests := []struct {
		name string
		args []string
		hint string
	}{
		{"status suggests a cluster's environment", []string{"status", "DEMOO"},
			"breakglass: hint: did you mean DEMO? environments of breakglass in this region: DEMO\n"},
		{"lower case is a near miss", []string{"close", "demo", "EFS-Util"},
			"breakglass: hint: did you mean DEMO? "},
		{"open suggests an environment of the config file", []string{"open", "PRDO", "EFS-Util", "--command", "ls"},
			"breakglass: hint: did you mean PROD? "},
		{"nothing near keeps the region's list", []string{"status", "BILLING"},
			"breakglass: hint: environments of breakglass in this region: DEMO\n"},
		{"an explicit --cluster gets no suggestion", []string{"status", "DEMOO", "--cluster", "DEMOO"},
			"breakglass: hint: clusters in this region: breakglass-ECS-DEMO;"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := runInProcess(t, tt.args...)
			if code != exitNotFound || !strings.Contains(stderr, tt.hint) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, exitNotFound, tt.hint)
			}
		})
	}
}

func TestTheSandboxChildIgnoresTheUsersConfigFile(t *testing.T) {
	env := sandboxBaseEnv([]string{"HOME=/h", configEnv + "=/h/real.yaml", "AWS_PROFILE=prod"})
	if last := env[len(env)-1]; last != configEnv+"="+os.DevNull {
		t.Errorf("the child's environment ends %q, want %s=%s (the last value wins)", last, configEnv, os.DevNull)
	}
	if slices.Contains(env, "AWS_PROFILE=prod") {
		t.Errorf("AWS_PROFILE reached the child: %q", env)
	}
}
