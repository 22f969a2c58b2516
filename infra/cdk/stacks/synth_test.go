package stacks_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"

	"github.com/breakglass-dev/breakglass/infra/cdk/config"
	"github.com/breakglass-dev/breakglass/infra/cdk/stacks"
)

// This file holds the harness of the synth tests: each test synthesises the
// app through jsii (a node process) with cdk.json's context, as `cdk synth`
// does, and inspects the templates.

// requireEnv makes the synth tests fail rather than skip without node; CI
// sets it.
const requireEnv = "BREAKGLASS_CDK_TESTS"

var scratch string // directory for cloud assemblies, removed by TestMain

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "breakglass-cdk-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	scratch = dir
	code := m.Run()
	// Close stops the node process; after a panic it would be left behind.
	jsii.Close()
	os.RemoveAll(dir)
	os.Exit(code)
}

// requireNode skips a synth test when node is missing, or fails it when
// BREAKGLASS_CDK_TESTS=require.
func requireNode(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		if os.Getenv(requireEnv) == "require" {
			t.Fatalf("node is required for the synth tests (%s=require): %v", requireEnv, err)
		}
		t.Skipf("node not found, synth test skipped (set %s=require to fail instead): %v",
			requireEnv, err)
	}
}

// cdkContext is the "context" of cdk.json. awscdk.NewApp reads cdk.json
// only under the CDK CLI, so the tests pass it themselves.
func cdkContext(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile("../cdk.json")
	if err != nil {
		t.Fatalf("read cdk.json: %v", err)
	}
	var f struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("parse cdk.json: %v", err)
	}
	if len(f.Context) == 0 {
		t.Fatal("cdk.json has no context")
	}
	return f.Context
}

// app is a synthesised environment.
type app struct {
	cfg       config.Config
	stacks    *stacks.Stacks
	outdir    string
	templates map[string]map[string]any // by stack name
}

// template returns the parsed template of stack name.
func (a *app) template(t *testing.T, name string) map[string]any {
	t.Helper()
	tmpl, ok := a.templates[name]
	if !ok {
		t.Fatalf("no stack %s; stacks: %v", name, slices.Sorted(maps.Keys(a.templates)))
	}
	return tmpl
}

// assertions returns the assertions.Template of stack name.
func (a *app) assertions(t *testing.T, name string) assertions.Template {
	t.Helper()
	tmpl := a.template(t, name)
	return assertions.Template_FromJSON(&tmpl, nil)
}

// placeholderCode stands in for the init function's binary: bundling it
// would cross-compile for arm64 in every test (TestInitFunctionIsBuilt...
// covers the real build).
func placeholderCode(t *testing.T) awslambda.Code {
	t.Helper()
	dir, err := os.MkdirTemp(scratch, "lambda-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bootstrap"), []byte("placeholder"), 0o755); err != nil {
		t.Fatal(err)
	}
	return awslambda.Code_FromAsset(jsii.String(dir), nil)
}

// synth builds the app with cdk.json's context plus overrides and
// synthesises it. A nil opts.InitCode gets the placeholder unless bundle.
func synth(t *testing.T, overrides map[string]any, opts stacks.Options, bundle bool) *app {
	t.Helper()
	requireNode(t)

	ctx := cdkContext(t)
	maps.Copy(ctx, overrides)
	outdir, err := os.MkdirTemp(scratch, "cdk.out-")
	if err != nil {
		t.Fatal(err)
	}

	var a *app
	err = recovered(func() {
		cdkApp := awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(outdir)})
		cfg, err := config.FromContext(func(k string) any {
			return cdkApp.Node().TryGetContext(jsii.String(k))
		})
		if err != nil {
			t.Fatalf("config: %v", err)
		}
		if opts.InitCode == nil && !bundle {
			opts.InitCode = placeholderCode(t)
		}
		s, err := stacks.New(cdkApp, cfg, opts)
		if err != nil {
			t.Fatalf("stacks.New: %v", err)
		}
		asm := cdkApp.Synth(nil)

		a = &app{cfg: cfg, stacks: s, outdir: outdir, templates: map[string]map[string]any{}}
		for _, st := range *asm.Stacks() {
			b, err := os.ReadFile(*st.TemplateFullPath())
			if err != nil {
				t.Fatalf("read template of %s: %v", *st.StackName(), err)
			}
			var tmpl map[string]any
			if err := json.Unmarshal(b, &tmpl); err != nil {
				t.Fatalf("parse template of %s: %v", *st.StackName(), err)
			}
			a.templates[*st.StackName()] = tmpl
		}
	})
	if err != nil {
		t.Fatalf("synth: %v", err)
	}
	return a
}

var (
	defaultOnce sync.Once
	defaultApp  *app
)

// defaultSynth is the app as `cdk synth` builds it with cdk.json alone,
// synthesised once for all the tests that only read it. If that fails, the
// first test to ask reports why and the others fail briefly.
func defaultSynth(t *testing.T) *app {
	t.Helper()
	requireNode(t)
	defaultOnce.Do(func() { defaultApp = synth(t, nil, stacks.Options{}, false) })
	if defaultApp == nil {
		t.Fatal("synthesising the default app failed in an earlier test")
	}
	return defaultApp
}

// recovered runs f and returns what it panicked with. A failed
// assertions.Template check panics (jsii turns the JavaScript exception
// into a Go panic), which would end the whole test binary.
func recovered(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	f()
	return nil
}

// check runs one assertions.Template check and reports its failure as a
// test error, so the checks after it still run.
func check(t *testing.T, what string, assertion func()) {
	t.Helper()
	if err := recovered(assertion); err != nil {
		t.Errorf("%s: %v", what, err)
	}
}

// resources returns the resources of type typ in tmpl, by logical id.
func resources(tmpl map[string]any, typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	res, _ := tmpl["Resources"].(map[string]any)
	for id, r := range res {
		r, _ := r.(map[string]any)
		if r["Type"] == typ {
			out[id] = r
		}
	}
	return out
}

// only returns the single resource of type typ, failing otherwise.
func only(t *testing.T, tmpl map[string]any, typ string) (string, map[string]any) {
	t.Helper()
	rs := resources(tmpl, typ)
	if len(rs) != 1 {
		t.Fatalf("%d resources of type %s, want 1", len(rs), typ)
	}
	for id, r := range rs {
		props, _ := r["Properties"].(map[string]any)
		return id, props
	}
	panic("unreachable")
}

// render turns CloudFormation intrinsics into readable strings, so that
// expectations can be written as text: {"Ref": "AWS::Region"} becomes
// ${AWS::Region}, Fn::Join is joined, Fn::GetAtt becomes ${Id.Attr} and
// Fn::GetStackOutput becomes ${Stack:Output}. Maps and lists are rendered
// deeply.
func render(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if j, ok := x["Fn::Join"].([]any); ok && len(j) == 2 {
			parts, _ := j[1].([]any)
			strs := make([]string, 0, len(parts))
			for _, p := range parts {
				strs = append(strs, fmt.Sprint(render(p)))
			}
			return strings.Join(strs, fmt.Sprint(j[0]))
		}
		if r, ok := x["Ref"].(string); ok && len(x) == 1 {
			return "${" + r + "}"
		}
		if g, ok := x["Fn::GetAtt"].([]any); ok && len(g) == 2 {
			return fmt.Sprintf("${%v.%v}", g[0], g[1])
		}
		if o, ok := x["Fn::GetStackOutput"].(map[string]any); ok {
			return fmt.Sprintf("${%v:%v}", o["StackName"], o["OutputName"])
		}
		out := make(map[string]any, len(x))
		for k, val := range x {
			out[k] = render(val)
		}
		return out
	case []any:
		out := make([]any, 0, len(x))
		for _, val := range x {
			out = append(out, render(val))
		}
		return out
	}
	return v
}

// statement is an IAM statement with actions and resources as sorted lists
// and intrinsics rendered.
type statement struct {
	Sid        string
	Effect     string
	Actions    []string
	Resources  []string
	Conditions any
}

func (s statement) String() string {
	b, _ := json.Marshal(s)
	return string(b)
}

func strs(v any) []string {
	var out []string
	switch x := render(v).(type) {
	case nil:
	case []any:
		for _, e := range x {
			out = append(out, fmt.Sprint(e))
		}
	default:
		out = append(out, fmt.Sprint(x))
	}
	sort.Strings(out)
	return out
}

// statements returns the statements of a policy document.
func statements(t *testing.T, doc any) []statement {
	t.Helper()
	d, ok := doc.(map[string]any)
	if !ok {
		t.Fatalf("policy document %v is not an object", doc)
	}
	raw, _ := d["Statement"].([]any)
	out := make([]statement, 0, len(raw))
	for _, r := range raw {
		m := r.(map[string]any)
		for _, forbidden := range []string{"NotAction", "NotResource", "NotPrincipal"} {
			if _, ok := m[forbidden]; ok {
				t.Errorf("statement uses %s: %v", forbidden, m)
			}
		}
		sid, _ := m["Sid"].(string)
		effect, _ := m["Effect"].(string)
		out = append(out, statement{
			Sid: sid, Effect: effect, Actions: strs(m["Action"]), Resources: strs(m["Resource"]),
			Conditions: render(m["Condition"]),
		})
	}
	return out
}

// matches reports whether s matches the regular expression pattern whole.
func matches(pattern, s string) bool {
	return regexp.MustCompile("^(?:" + pattern + ")$").MatchString(s)
}
