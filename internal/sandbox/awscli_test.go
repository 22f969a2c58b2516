package sandbox

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestAWSCLIWorksAgainstTheSandbox drives the real AWS CLI (v1 or v2,
// whichever is on PATH) with --endpoint-url, as a user would.
func TestAWSCLIWorksAgainstTheSandbox(t *testing.T) {
	if testing.Short() {
		t.Skip("the AWS CLI takes seconds to start")
	}
	bin, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("the AWS CLI is not installed")
	}
	s := start(t, fastConfig())
	env := s.Environ(append(os.Environ(),
		"HOME="+t.TempDir(), "AWS_PAGER=", "AWS_CLI_AUTO_PROMPT=off"))

	aws := func(args ...string) (map[string]any, string, error) {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"--endpoint-url", s.URL(), "--output", "json"},
			args...)...)
		cmd.Env = env
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		var v map[string]any
		if err == nil {
			if jerr := json.Unmarshal(out, &v); jerr != nil {
				t.Fatalf("aws %s printed %q: %v", strings.Join(args, " "), out, jerr)
			}
		}
		return v, stderr.String(), err
	}

	out, stderr, err := aws("ecs", "update-service", "--cluster", demoCluster,
		"--service", efsUtil, "--desired-count", "1")
	if err != nil {
		t.Fatalf("aws ecs update-service: %v\n%s", err, stderr)
	}
	if svc := out["service"].(map[string]any); svc["desiredCount"] != 1.0 ||
		svc["serviceName"] != efsUtil {
		t.Errorf("update-service printed %v", svc)
	}

	out, stderr, err = aws("ecs", "describe-services", "--cluster", demoCluster,
		"--services", efsUtil, "nope", "--include", "TAGS")
	if err != nil {
		t.Fatalf("aws ecs describe-services: %v\n%s", err, stderr)
	}
	svc := out["services"].([]any)[0].(map[string]any)
	failure := out["failures"].([]any)[0].(map[string]any)
	if svc["enableExecuteCommand"] != true || len(svc["tags"].([]any)) != 1 ||
		failure["reason"] != "MISSING" {
		t.Errorf("describe-services printed %v", out)
	}
	if _, ok := svc["createdAt"]; !ok {
		t.Errorf("describe-services printed no createdAt")
	}

	_, stderr, err = aws("ecs", "list-tasks", "--cluster", demoCluster, "--service-name", "nope")
	if err == nil || !strings.Contains(stderr, "ServiceNotFoundException") ||
		!strings.Contains(stderr, "Service not found.") {
		t.Errorf("list-tasks of an unknown service: err %v, stderr %q", err, stderr)
	}

	out, stderr, err = aws("sts", "get-caller-identity")
	if err != nil || out["Account"] != "000000000000" {
		t.Errorf("aws sts get-caller-identity = %v, %v\n%s", out, err, stderr)
	}
}
