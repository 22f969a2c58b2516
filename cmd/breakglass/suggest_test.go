package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/breakglass-dev/breakglass/internal/ecs"
)

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"PROD", "PROD", 0},
		{"prod", "PROD", 0}, // case is ignored
		{"PRD", "PROD", 1},
		{"PROOD", "PROD", 1},
		{"PRID", "PROD", 1},
		{"PORD", "PROD", 1}, // a swap is one edit
		{"DEMO", "PROD", 4},
		{"", "QA", 2},
		{"staging", "STAGE", 3},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := editDistance(tt.b, tt.a); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d (not symmetric)", tt.b, tt.a, got, tt.want)
		}
	}
}

func TestNearest(t *testing.T) {
	envs := []string{"DEMO", "DEV1", "DEV2", "PROD", "PROD-EU", "QA", "STAGING"}
	tests := []struct {
		name string
		word string
		want string
	}{
		{"a swap finds the environment", "PORD", "PROD"},
		{"lower case finds the environment", "prod", "PROD"},
		{"a prefix finds the environments it starts", "STAG", "STAGING"},
		{"the closest wins over a prefix", "PROD-E", "PROD-EU"},
		{"one edit beats a prefix", "PROD-", "PROD"},
		{"ties are all suggested", "DEV3", "DEV1 or DEV2"},
		{"something unrelated finds nothing", "BILLING", ""},
		{"a short word is not matched by everything", "X", ""},
		{"two letters need a near match", "QB", "QA"},
		{"a word that is a candidate gets no suggestion", "DEMO", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := orList(nearest(tt.word, envs)); got != tt.want {
				t.Errorf("nearest(%q) = %q, want %q", tt.word, got, tt.want)
			}
		})
	}
}

func TestAMistypedCommandSuggestsTheNearest(t *testing.T) {
	isolateEnv(t)
	tests := []struct {
		args []string
		msg  string
		hint string
	}{
		{[]string{"opne", "DEMO", "EFS-Util"}, `unknown command "opne"`, "did you mean 'breakglass open'?"},
		{[]string{"stat"}, `unknown command "stat"`, "did you mean 'breakglass status'?"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`, "see 'breakglass --help' for the commands"},
		{[]string{"status", "--profle", "x"}, "unknown flag: --profle", "did you mean --profile?"},
		{[]string{"open", "--comand", "ls"}, "unknown flag: --comand", "did you mean --command?"},
		{[]string{"completion", "bsah"}, `unknown shell "bsah"`, "did you mean bash?"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, stderr, code := runInProcess(t, tt.args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
			if !strings.Contains(stderr, "breakglass: "+tt.msg+"\n") ||
				!strings.Contains(stderr, "breakglass: hint: "+tt.hint) {
				t.Errorf("stderr %q, want %q and hint %q", stderr, tt.msg, tt.hint)
			}
		})
	}
}

func TestHintedErrorKeepsTheErrorAndItsExitCode(t *testing.T) {
	inner := &ecs.Error{Kind: ecs.KindClusterNotFound, Msg: "cluster x not found", HintMsg: "old"}
	err := &hintedError{err: inner, hint: "did you mean X? old"}
	if exitCode(err) != exitNotFound || err.Error() != inner.Error() || !errors.Is(err, inner) {
		t.Errorf("exit %d, %q", exitCode(err), err)
	}
	var h interface{ Hint() string }
	if !errors.As(err, &h) || h.Hint() != "did you mean X? old" {
		t.Errorf("hint %q", h.Hint())
	}
}
