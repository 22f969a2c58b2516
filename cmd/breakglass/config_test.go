package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/breakglass-dev/breakglass/internal/naming"
)

const sampleConfig = `# breakglass environments
defaults:
  region: eu-west-1
  project: acme

environments:
  PROD:
    profile: prod-breakglass
    region: eu-central-1
  DEMO:
    profile: dev
    project: demo
  QA: # nothing of its own: the defaults apply
`

// parseConfig parses text as the file path would be.
func parseConfig(t *testing.T, text string) *configFile {
	t.Helper()
	c := &configFile{Path: "/cfg/config.yaml", Found: true}
	if err := c.parse([]byte(text)); err != nil {
		t.Fatalf("parse: %v", err)
	}
	return c
}

func TestConfigParsesEnvironmentsAndDefaults(t *testing.T) {
	c := parseConfig(t, sampleConfig)
	if got := strings.Join(c.envNames(), ","); got != "DEMO,PROD,QA" {
		t.Errorf("environments = %s", got)
	}
	prod := c.Environments["PROD"]
	if prod.Profile.Value != "prod-breakglass" || prod.Profile.Line != 8 ||
		prod.Profile.Key != "environments.PROD.profile" {
		t.Errorf("PROD profile = %+v", prod.Profile)
	}
	if c.Defaults.Region.Value != "eu-west-1" || c.Defaults.Region.Line != 3 {
		t.Errorf("default region = %+v", c.Defaults.Region)
	}
	if qa := c.Environments["QA"]; qa != (fileSettings{}) {
		t.Errorf("QA = %+v, want no settings", qa)
	}
}

func TestConfigFilesWithNothingInThemAreValid(t *testing.T) {
	for name, text := range map[string]string{
		"an empty file":           "",
		"a file of comments":      "# nothing yet\n\n# really\n",
		"an explicit null":        "~\n",
		"empty sections":          "defaults:\nenvironments:\n",
		"a document start marker": "---\n",
	} {
		t.Run(name, func(t *testing.T) {
			c := parseConfig(t, text)
			if len(c.Environments) != 0 || c.Defaults != (fileSettings{}) {
				t.Errorf("got %+v", c)
			}
		})
	}
}

func TestMalformedConfigNamesTheLineAndTheProblem(t *testing.T) {
	tests := []struct {
		name string
		text string
		line int
		want string
	}{
		{"a misspelt key is unknown, with the likely one", "environments:\n  PROD:\n    regoin: eu-west-1\n",
			3, `unknown key "regoin" in environments.PROD (expected profile, region or project); did you mean region?`},
		{"an unknown top-level key", "default:\n  region: x\n",
			1, `unknown key "default" in the top level (expected defaults or environments); did you mean defaults?`},
		{"a key set twice", "environments:\n  PROD: {}\n  PROD: {}\n",
			3, `"PROD" is already set in environments at line 2`},
		{"an environment that is no valid name", "environments:\n  PROD EU:\n    region: eu-west-1\n",
			2, `invalid environment "PROD EU"`},
		{"a project that is no valid name", "defaults:\n  project: acme corp\n",
			2, `defaults.project: invalid project "acme corp"`},
		{"a region that is no region", "defaults:\n  region: eu west 1\n",
			2, `defaults.region: "eu west 1" is not a region name`},
		{"a list where a string belongs", "defaults:\n  profile: [a, b]\n",
			2, "defaults.profile must be a string"},
		{"a list where the environments belong", "environments:\n  - PROD\n",
			2, "environments must be a mapping"},
		{"a file that is a list", "- PROD\n", 1, "the top level must be a mapping"},
		{"broken YAML", "defaults:\n  region: eu-west-1\n    profile: x\n", 3, "not valid YAML"},
		{"a tab for indentation", "defaults:\n\tregion: eu-west-1\n", 2, "not valid YAML"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &configFile{Path: "/cfg/config.yaml"}
			err := c.parse([]byte(tt.text))
			var ce *configError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a *configError", err)
			}
			if ce.Line != tt.line || !strings.Contains(ce.Msg, tt.want) {
				t.Errorf("got line %d %q, want line %d containing %q", ce.Line, ce.Msg, tt.line, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "config file /cfg/config.yaml, line ") {
				t.Errorf("message %q does not start with the file and line", err)
			}
			if exitCode(err) != exitUsage || ce.Hint() == "" {
				t.Errorf("exit code %d, hint %q: want %d and a hint", exitCode(err), ce.Hint(), exitUsage)
			}
		})
	}
}

func TestConfigAnchorsAreFollowed(t *testing.T) {
	c := parseConfig(t, "environments:\n  PROD: &prod\n    profile: p\n  PROD2: *prod\n")
	if c.Environments["PROD2"].Profile.Value != "p" {
		t.Errorf("PROD2 = %+v", c.Environments["PROD2"])
	}
}

func TestLocateConfig(t *testing.T) {
	home := isolateEnv(t)
	xdg := filepath.Join(home, "xdg")
	env := func(kv map[string]string) func(string) string {
		return func(k string) string { return kv[k] }
	}
	tests := []struct {
		name     string
		flag     string
		vars     map[string]string
		files    []string // created under xdg/breakglass
		want     string
		origin   string
		explicit bool
	}{
		{"--config wins over everything", "/x/flag.yaml",
			map[string]string{configEnv: "/x/env.yaml", "XDG_CONFIG_HOME": xdg}, nil,
			"/x/flag.yaml", "--config", true},
		{"BREAKGLASS_CONFIG wins over the default", "",
			map[string]string{configEnv: "/x/env.yaml", "XDG_CONFIG_HOME": xdg}, nil,
			"/x/env.yaml", configEnv, true},
		{"XDG_CONFIG_HOME holds the default", "", map[string]string{"XDG_CONFIG_HOME": xdg}, nil,
			filepath.Join(xdg, "breakglass", "config.yaml"), "default location", false},
		{"config.yml is found when it is the only one", "", map[string]string{"XDG_CONFIG_HOME": xdg},
			[]string{"config.yml"}, filepath.Join(xdg, "breakglass", "config.yml"), "default location", false},
		{"config.yaml is preferred to config.yml", "", map[string]string{"XDG_CONFIG_HOME": xdg},
			[]string{"config.yml", "config.yaml"}, filepath.Join(xdg, "breakglass", "config.yaml"),
			"default location", false},
		{"a relative XDG_CONFIG_HOME is ignored", "", map[string]string{"XDG_CONFIG_HOME": "rel"}, nil,
			filepath.Join(home, ".config", "breakglass", "config.yaml"), "default location", false},
		{"without XDG_CONFIG_HOME it is ~/.config", "", nil, nil,
			filepath.Join(home, ".config", "breakglass", "config.yaml"), "default location", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.RemoveAll(xdg)
			for _, f := range tt.files {
				writeFile(t, filepath.Join(xdg, "breakglass", f), "")
			}
			path, origin, explicit := locateConfig(tt.flag, env(tt.vars))
			if path != tt.want || origin != tt.origin || explicit != tt.explicit {
				t.Errorf("got %s (%s, explicit %v), want %s (%s, explicit %v)",
					path, origin, explicit, tt.want, tt.origin, tt.explicit)
			}
		})
	}
}

func TestLoadConfig(t *testing.T) {
	home := isolateEnv(t)
	getenv := os.Getenv

	t.Run("a missing file at the default location is an empty config", func(t *testing.T) {
		c, err := loadConfig("", getenv)
		if err != nil || c.Found || len(c.Environments) != 0 {
			t.Fatalf("got %+v, %v", c, err)
		}
	})
	t.Run("a missing --config file is an error", func(t *testing.T) {
		_, err := loadConfig(filepath.Join(home, "nope.yaml"), getenv)
		if err == nil || !strings.Contains(err.Error(), "no such file (named by --config)") ||
			exitCode(err) != exitUsage {
			t.Fatalf("err = %v (exit %d)", err, exitCode(err))
		}
	})
	t.Run("a missing BREAKGLASS_CONFIG file is an error", func(t *testing.T) {
		t.Setenv(configEnv, filepath.Join(home, "nope.yaml"))
		_, err := loadConfig("", os.Getenv)
		if err == nil || !strings.Contains(err.Error(), "named by BREAKGLASS_CONFIG") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("the null device is an empty config", func(t *testing.T) {
		c, err := loadConfig(os.DevNull, getenv)
		if err != nil || !c.Found || len(c.Environments) != 0 {
			t.Fatalf("got %+v, %v", c, err)
		}
	})
	t.Run("the default file is read", func(t *testing.T) {
		writeUserConfig(t, sampleConfig)
		c, err := loadConfig("", getenv)
		if err != nil || !c.Found || c.Environments["PROD"].Region.Value != "eu-central-1" {
			t.Fatalf("got %+v, %v", c, err)
		}
	})
}

func TestSettingsPrecedence(t *testing.T) {
	file := parseConfig(t, sampleConfig)
	const (
		flag = "flag"
		env  = "env"
		sect = "section"
		defs = "defaults"
		none = "none"
	)
	tests := []struct {
		name    string
		env     string
		flags   flagSettings
		vars    map[string]string
		file    *configFile
		setting string // profile, region or project
		want    string
		from    string
	}{
		{"the environment's profile comes from its section", "PROD", flagSettings{}, nil, file,
			"profile", "prod-breakglass", sect},
		{"AWS_PROFILE beats the section", "PROD", flagSettings{}, map[string]string{"AWS_PROFILE": "mine"}, file,
			"profile", "mine", env},
		{"AWS_DEFAULT_PROFILE beats the section too", "PROD", flagSettings{},
			map[string]string{"AWS_DEFAULT_PROFILE": "old"}, file, "profile", "old", env},
		{"AWS_PROFILE beats AWS_DEFAULT_PROFILE", "PROD", flagSettings{},
			map[string]string{"AWS_PROFILE": "new", "AWS_DEFAULT_PROFILE": "old"}, file, "profile", "new", env},
		{"--profile beats AWS_PROFILE", "PROD", flagSettings{profile: "cli"},
			map[string]string{"AWS_PROFILE": "mine"}, file, "profile", "cli", flag},
		{"an environment without a profile leaves it to the SDK", "QA", flagSettings{}, nil, file,
			"profile", "", none},
		{"keys in the environment beat the file's profile", "PROD", flagSettings{},
			map[string]string{"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE"}, file, "profile", "", none},
		{"--profile beats keys in the environment", "PROD", flagSettings{profile: "cli"},
			map[string]string{"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE"}, file, "profile", "cli", flag},
		{"the section's region beats the defaults", "PROD", flagSettings{}, nil, file,
			"region", "eu-central-1", sect},
		{"the defaults' region applies without one of its own", "DEMO", flagSettings{}, nil, file,
			"region", "eu-west-1", defs},
		{"AWS_REGION beats the section", "PROD", flagSettings{}, map[string]string{"AWS_REGION": "us-east-1"},
			file, "region", "us-east-1", env},
		{"AWS_DEFAULT_REGION beats the section", "PROD", flagSettings{},
			map[string]string{"AWS_DEFAULT_REGION": "us-east-2"}, file, "region", "us-east-2", env},
		{"AWS_REGION beats AWS_DEFAULT_REGION", "PROD", flagSettings{},
			map[string]string{"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-2"}, file,
			"region", "us-east-1", env},
		{"--region beats AWS_REGION", "PROD", flagSettings{region: "ap-south-1"},
			map[string]string{"AWS_REGION": "us-east-1"}, file, "region", "ap-south-1", flag},
		{"the section's project beats the defaults", "DEMO", flagSettings{}, nil, file,
			"project", "demo", sect},
		{"the defaults' project applies to an environment without one", "PROD", flagSettings{}, nil, file,
			"project", "acme", defs},
		{"BREAKGLASS_PROJECT beats the file", "DEMO", flagSettings{},
			map[string]string{"BREAKGLASS_PROJECT": "envproj"}, file, "project", "envproj", env},
		{"--project beats BREAKGLASS_PROJECT", "DEMO", flagSettings{project: "cliproj"},
			map[string]string{"BREAKGLASS_PROJECT": "envproj"}, file, "project", "cliproj", flag},
		{"without a file the project is breakglass", "DEMO", flagSettings{}, nil, nil,
			"project", naming.DefaultProject, none},
		{"an environment the file does not name gets the defaults", "STAGING", flagSettings{}, nil, file,
			"region", "eu-west-1", defs},
		{"no environment gets the defaults only", "", flagSettings{}, nil, file,
			"project", "acme", defs},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := resolveSettings(tt.env, tt.flags, func(k string) string { return tt.vars[k] }, tt.file)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]setting{"profile": st.Profile, "region": st.Region, "project": st.Project}[tt.setting]
			if got.Value != tt.want {
				t.Errorf("%s = %q, want %q", tt.setting, got.Value, tt.want)
			}
			if from := sourceKind(got.Source); from != tt.from {
				t.Errorf("%s source = %q (%s), want %s", tt.setting, got.Source, from, tt.from)
			}
		})
	}
}

// sourceKind classifies a setting's source for the precedence table.
func sourceKind(source string) string {
	switch {
	case strings.HasPrefix(source, "--"):
		return "flag"
	case strings.HasPrefix(source, "AWS_") || strings.HasPrefix(source, "BREAKGLASS_"):
		return "env"
	case strings.Contains(source, "(environments."):
		return "section"
	case strings.Contains(source, "(defaults."):
		return "defaults"
	}
	return "none"
}

func TestSettingsSayWhichFileValueAVariableOverrides(t *testing.T) {
	file := parseConfig(t, sampleConfig)
	st, err := resolveSettings("PROD", flagSettings{}, func(k string) string {
		return map[string]string{"AWS_PROFILE": "left-over"}[k]
	}, file)
	if err != nil {
		t.Fatal(err)
	}
	if want := "prod-breakglass from /cfg/config.yaml:8 (environments.PROD.profile)"; st.Profile.Overrides != want {
		t.Errorf("overrides = %q, want %q", st.Profile.Overrides, want)
	}
	// A default the variable beats is no surprise, and not reported.
	if st.Region.Overrides != "" {
		t.Errorf("region overrides = %q", st.Region.Overrides)
	}
}

func TestOnlyExplicitProfilesAreHandedToTheSDK(t *testing.T) {
	file := parseConfig(t, sampleConfig)
	tests := []struct {
		name  string
		flags flagSettings
		vars  map[string]string
		want  string
	}{
		{"a flag's profile is handed over", flagSettings{profile: "cli"}, nil, "cli"},
		{"the file's profile is handed over", flagSettings{}, nil, "prod-breakglass"},
		// Given explicitly, the SDK would let the profile beat
		// AWS_ACCESS_KEY_ID, which AWS_PROFILE never does.
		{"AWS_PROFILE is left to the SDK", flagSettings{}, map[string]string{"AWS_PROFILE": "p"}, ""},
		{"no profile with keys in the environment", flagSettings{},
			map[string]string{"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := resolveSettings("PROD", tt.flags, func(k string) string { return tt.vars[k] }, file)
			if err != nil {
				t.Fatal(err)
			}
			if got := st.awsFlags().profile; got != tt.want {
				t.Errorf("profile for the SDK = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAnInvalidProjectFromTheEnvironmentNamesItsSource(t *testing.T) {
	_, err := resolveSettings("PROD", flagSettings{}, func(k string) string {
		return map[string]string{"BREAKGLASS_PROJECT": "a/b"}[k]
	}, nil)
	if err == nil || !strings.Contains(err.Error(), "project (from BREAKGLASS_PROJECT)") || exitCode(err) != exitUsage {
		t.Errorf("err = %v", err)
	}
}

func TestConfigCommand(t *testing.T) {
	isolateEnv(t)
	path := writeUserConfig(t, sampleConfig)

	t.Run("the table shows each setting and its source", func(t *testing.T) {
		t.Setenv("AWS_REGION", "us-west-2")
		stdout, stderr, code := runInProcess(t, "config", "PROD")
		if code != 0 || stderr != "" {
			t.Fatalf("exit %d, stderr %q", code, stderr)
		}
		golden(t, "config-prod.txt", strings.ReplaceAll(stdout, path, "CONFIG"))
	})

	t.Run("json has the documented shape", func(t *testing.T) {
		stdout, _, code := runInProcess(t, "--profile", "cli", "config", "DEMO", "-o", "json")
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
		golden(t, "config-demo.json", strings.ReplaceAll(stdout, path, "CONFIG"))
		var doc configJSON
		if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
			t.Fatal(err)
		}
		if doc.Profile.Value != "cli" || doc.Profile.Source != "--profile" || doc.Cluster != "demo-ECS-DEMO" ||
			!doc.EnvInConfigFile || doc.Region.Value != "eu-west-1" {
			t.Errorf("unexpected document %+v", doc)
		}
	})

	t.Run("without ENV it shows the defaults", func(t *testing.T) {
		stdout, _, code := runInProcess(t, "config", "-o", "json")
		var doc configJSON
		if err := json.Unmarshal([]byte(stdout), &doc); err != nil || code != 0 {
			t.Fatalf("exit %d, %v", code, err)
		}
		if doc.Env != "" || doc.Cluster != "" || doc.Project.Value != "acme" ||
			strings.Join(doc.Environments, ",") != "DEMO,PROD,QA" {
			t.Errorf("unexpected document %+v", doc)
		}
	})

	t.Run("a region from the AWS profile is reported as such", func(t *testing.T) {
		writeFile(t, os.Getenv("AWS_CONFIG_FILE"), "[profile dev]\nregion = sa-east-1\n")
		stdout, _, _ := runInProcess(t, "--config", os.DevNull, "--profile", "dev", "config", "DEMO", "-o", "json")
		var doc configJSON
		if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
			t.Fatal(err)
		}
		if doc.Region.Value != "sa-east-1" || doc.Region.Source != "shared AWS config, profile dev" {
			t.Errorf("region = %+v", doc.Region)
		}
	})

	t.Run("a malformed file fails every command that reads it", func(t *testing.T) {
		writeUserConfig(t, "environments:\n  PROD:\n    prfile: x\n")
		for _, args := range [][]string{{"config", "PROD"}, {"status"}, {"open", "PROD", "X", "--command", "ls"},
			{"close", "PROD", "X"}} {
			_, stderr, code := runInProcess(t, args...)
			if code != exitUsage || !strings.Contains(stderr, "line 3: unknown key \"prfile\"") {
				t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
			}
		}
		// The commands that need no AWS settings do not read it.
		if _, stderr, code := runInProcess(t, "version"); code != 0 {
			t.Errorf("version: exit %d, stderr %q", code, stderr)
		}
	})
}
