package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/breakglass-dev/breakglass/internal/naming"
)

// The config file maps each environment to the AWS profile, region and naming
// project it lives in, so that 'breakglass open PROD EFS-Util' reaches the
// PROD account without flags:
//
//	defaults:
//	  region: eu-west-1
//	environments:
//	  PROD:
//	    profile: prod-breakglass
//	  DEMO:
//	    profile: dev
//	    region: us-east-1
//	    project: demo
//
// Each setting is resolved in this order, first match wins: the flag, the
// environment variable, the environment's section of the file, the file's
// defaults, and then the SDK's own choice (profile: the default chain;
// region: the profile's region) or, for the project, "breakglass".

// configEnv names the config file, like --config.
const configEnv = "BREAKGLASS_CONFIG"

// configFileNames are the names looked for in the default folder, in order.
var configFileNames = []string{"config.yaml", "config.yml"}

// configFile is a loaded config file, or the absence of one.
type configFile struct {
	Path   string // the file read, or the default path looked at
	Origin string // how Path was chosen: "--config", configEnv or "default location"
	Found  bool

	Defaults     fileSettings
	Environments map[string]fileSettings
	envLines     map[string]int // line of each environment's key
}

// fileSettings are the settings of one section of the file.
type fileSettings struct {
	Profile fileValue
	Region  fileValue
	Project fileValue
}

// fileValue is a value from the file and where it was written.
type fileValue struct {
	Value string
	Line  int
	Key   string // dotted path, e.g. "environments.PROD.region"
}

// envNames returns the environments the file names, sorted.
func (c *configFile) envNames() []string {
	names := make([]string, 0, len(c.Environments))
	for name := range c.Environments {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// configError is a config file that cannot be used: missing when named
// explicitly, unreadable or malformed. Line is 0 when the problem is not on
// one line.
type configError struct {
	Path string
	Line int
	Msg  string
	hint string
	err  error
}

func (e *configError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("config file %s, line %d: %s", e.Path, e.Line, e.Msg)
	}
	return fmt.Sprintf("config file %s: %s", e.Path, e.Msg)
}

func (e *configError) Hint() string  { return e.hint }
func (e *configError) Unwrap() error { return e.err }

// As lets exitCode treat a bad config file like a bad command line (exit 2):
// both are the operator's input, fixed by editing it.
func (e *configError) As(target any) bool {
	if u, ok := target.(**usageError); ok {
		*u = &usageError{msg: e.Error(), hint: e.hint}
		return true
	}
	return false
}

const configHint = "fix the file, or bypass it with --config " + os.DevNull +
	"; 'breakglass config --help' shows the format"

// locateConfig returns the config file to read: --config, else
// BREAKGLASS_CONFIG, else the first of config.yaml and config.yml in
// $XDG_CONFIG_HOME/breakglass (default ~/.config/breakglass), else the
// default path, which need not exist.
func locateConfig(flag string, getenv func(string) string) (path, origin string, explicit bool) {
	if flag != "" {
		return flag, "--config", true
	}
	if p := getenv(configEnv); p != "" {
		return p, configEnv, true
	}

	// The XDG spec ignores a relative XDG_CONFIG_HOME, and so do we.
	dir := getenv("XDG_CONFIG_HOME")
	if dir == "" || !filepath.IsAbs(dir) {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", "default location", false
		}
		dir = filepath.Join(home, ".config")
	}
	dir = filepath.Join(dir, "breakglass")
	for _, name := range configFileNames {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p, "default location", false
		}
	}
	return filepath.Join(dir, configFileNames[0]), "default location", false
}

// loadConfig reads the config file chosen as locateConfig says. A missing
// file at the default location is an empty config; a missing file named by
// --config or BREAKGLASS_CONFIG is a *configError, as is a malformed file.
// An empty file is a valid empty config.
func loadConfig(flag string, getenv func(string) string) (*configFile, error) {
	path, origin, explicit := locateConfig(flag, getenv)
	c := &configFile{Path: path, Origin: origin}
	if path == "" {
		return c, nil
	}

	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && !explicit:
		return c, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, &configError{Path: path, Msg: "no such file (named by " + origin + ")",
			hint: "check the path, or create the file ('breakglass config --help' shows the format)",
			err:  err}
	case err != nil:
		return nil, &configError{Path: path, Msg: fmt.Sprintf("read: %v", err), hint: configHint, err: err}
	}
	c.Found = true
	if err := c.parse(data); err != nil {
		return nil, err
	}
	return c, nil
}

// parse reads the file's YAML. It walks the node tree itself rather than
// decoding into structs, so that every problem is reported with its line and
// the path of the key, including unknown and duplicate keys.
func (c *configFile) parse(data []byte) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return c.syntaxError(err)
	}
	c.Environments = map[string]fileSettings{}
	c.envLines = map[string]int{}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil // empty, or only comments
	}
	root := deref(doc.Content[0])
	if isNull(root) {
		return nil
	}

	return c.eachKey(root, "", []string{"defaults", "environments"}, func(key string, k, v *yaml.Node) error {
		switch key {
		case "defaults":
			s, err := c.settings(v, "defaults")
			c.Defaults = s
			return err
		default: // environments
			return c.environments(v)
		}
	})
}

func (c *configFile) environments(n *yaml.Node) error {
	return c.eachKey(n, "environments", nil, func(env string, k, v *yaml.Node) error {
		if err := naming.Validate("environment", env); err != nil {
			return c.errorAt(k, err.Error())
		}
		s, err := c.settings(v, "environments."+env)
		if err != nil {
			return err
		}
		c.Environments[env] = s
		c.envLines[env] = k.Line
		return nil
	})
}

func (c *configFile) settings(n *yaml.Node, path string) (fileSettings, error) {
	var s fileSettings
	err := c.eachKey(n, path, []string{"profile", "region", "project"}, func(key string, k, v *yaml.Node) error {
		if v.Kind != yaml.ScalarNode {
			return c.errorAt(v, fmt.Sprintf("%s.%s must be a string", path, key))
		}
		fv := fileValue{Value: strings.TrimSpace(v.Value), Line: v.Line, Key: path + "." + key}
		if isNull(v) {
			fv.Value = ""
		}
		var err error
		switch key {
		case "profile":
			s.Profile, err = fv, checkProfile(fv.Value)
		case "region":
			s.Region, err = fv, checkRegion(fv.Value)
		case "project":
			s.Project = fv
			if fv.Value != "" {
				err = naming.Validate("project", fv.Value)
			}
		}
		if err != nil {
			return c.errorAt(v, fmt.Sprintf("%s: %v", fv.Key, err))
		}
		return nil
	})
	return s, err
}

// eachKey calls f for each key of the mapping n, in file order. A null n is
// an empty mapping. With known set, any other key is an error.
func (c *configFile) eachKey(n *yaml.Node, path string, known []string,
	f func(key string, k, v *yaml.Node) error) error {
	n = deref(n)
	if isNull(n) {
		return nil
	}
	where := path
	if where == "" {
		where = "the top level"
	}
	if n.Kind != yaml.MappingNode {
		return c.errorAt(n, fmt.Sprintf("%s must be a mapping of keys to values", where))
	}

	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			return c.errorAt(k, fmt.Sprintf("keys of %s must be names", where))
		}
		key := k.Value
		if line, dup := seen[key]; dup {
			return c.errorAt(k, fmt.Sprintf("%q is already set in %s at line %d", key, where, line))
		}
		seen[key] = k.Line
		if known != nil && !slices.Contains(known, key) {
			msg := fmt.Sprintf("unknown key %q in %s (expected %s)", key, where, orList(known))
			if s := nearest(key, known); len(s) > 0 {
				msg += "; did you mean " + s[0] + "?"
			}
			return c.errorAt(k, msg)
		}
		if err := f(key, k, v); err != nil {
			return err
		}
	}
	return nil
}

func (c *configFile) errorAt(n *yaml.Node, msg string) error {
	return &configError{Path: c.Path, Line: n.Line, Msg: msg, hint: configHint}
}

// syntaxError turns the YAML parser's "yaml: line 3: ..." into a
// *configError with the line apart.
func (c *configFile) syntaxError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if n, err := fmt.Sscanf(msg, "line %d:", &line); n == 1 && err == nil {
		_, msg, _ = strings.Cut(msg, ": ")
	}
	return &configError{Path: c.Path, Line: line, Msg: "not valid YAML: " + msg, hint: configHint, err: err}
}

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func checkProfile(p string) error {
	if strings.ContainsAny(p, " \t[]") {
		return fmt.Errorf("%q is not a profile name", p)
	}
	return nil
}

// checkRegion catches what cannot be a region, such as "eu west 1". A
// misspelt but well-formed region is reported by the first AWS call.
func checkRegion(r string) error {
	for _, ch := range r {
		if !(ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '-') {
			return fmt.Errorf("%q is not a region name (such as eu-west-1)", r)
		}
	}
	return nil
}

// orList renders "a, b or c".
func orList(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

// setting is one resolved setting and where its value came from.
type setting struct {
	Value  string `json:"value"`
	Source string `json:"source"`
	// Overrides names the config file value that a flag or environment
	// variable beat, for a warning; "" if none.
	Overrides string `json:"overrides,omitempty"`

	origin origin
}

// origin is the kind of source a setting came from.
type origin int

const (
	fromNowhere origin = iota
	fromFlag
	fromEnv
	fromFile
)

// settings are the resolved settings for one environment (or none).
type settings struct {
	Env     string
	Profile setting
	Region  setting
	Project setting
}

// awsFlags returns the AWS part of s for loadAWS. A profile from
// AWS_PROFILE is left to the SDK, which then lets AWS_ACCESS_KEY_ID win over
// it as it always does; a profile given to the SDK explicitly would win over
// the keys.
func (s settings) awsFlags() awsFlags {
	f := awsFlags{profile: s.Profile.Value, region: s.Region.Value, profileSource: s.Profile.Source}
	if s.Profile.origin == fromEnv {
		f.profile = ""
	}
	return f
}

// flagSettings are the values of --profile, --region and --project.
type flagSettings struct {
	profile, region, project string
}

// Sources, as 'breakglass config' prints them.
const (
	sourceDefault = "built-in default"
	sourceUnset   = "not set"
	sourceEnvKeys = "none: AWS_ACCESS_KEY_ID is set"
)

// resolveSettings resolves profile, region and project for env ("" for no
// environment: the file's defaults only). Flags beat environment variables
// beat the environment's section of the file beat the file's defaults. The
// project falls back to "breakglass"; profile and region are left empty for
// the SDK to choose. A resolved project that is not a valid name is a
// *naming.Error naming where it came from.
func resolveSettings(env string, f flagSettings, getenv func(string) string,
	file *configFile) (settings, error) {
	var sect, defs fileSettings
	if file != nil {
		defs = file.Defaults
		sect = file.Environments[env]
	}
	s := settings{Env: env}
	s.Profile = pick(f.profile, "--profile", getenv, []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE"},
		sect.Profile, defs.Profile, file)
	s.Region = pick(f.region, "--region", getenv, []string{"AWS_REGION", "AWS_DEFAULT_REGION"},
		sect.Region, defs.Region, file)
	s.Project = pick(f.project, "--project", getenv, []string{naming.ProjectEnv},
		sect.Project, defs.Project, file)
	if s.Project.Value == "" {
		s.Project = setting{Value: naming.DefaultProject, Source: sourceDefault}
	}
	// Credentials in the environment beat a profile from the file, as they
	// beat one from AWS_PROFILE: the file is the weakest source. This is
	// also what keeps a shell set up for the sandbox (which exports keys)
	// away from the real accounts the file names.
	if s.Profile.origin == fromFile && getenv("AWS_ACCESS_KEY_ID") != "" {
		s.Profile = setting{Source: sourceEnvKeys, Overrides: s.Profile.Value + " from " + s.Profile.Source,
			origin: fromEnv}
	}
	if s.Profile.Value == "" && s.Profile.Source == "" {
		s.Profile.Source = sourceUnset
	}
	if s.Region.Value == "" {
		s.Region.Source = sourceUnset
	}

	if err := naming.Validate("project", s.Project.Value); err != nil {
		var ne *naming.Error
		if errors.As(err, &ne) {
			ne.Field = "project (from " + s.Project.Source + ")"
		}
		return settings{}, err
	}
	return s, nil
}

func pick(flag, flagName string, getenv func(string) string, vars []string,
	sect, defs fileValue, file *configFile) setting {
	var s setting
	if flag != "" {
		s = setting{Value: flag, Source: flagName, origin: fromFlag}
	} else {
		for _, v := range vars {
			if val := getenv(v); val != "" {
				s = setting{Value: val, Source: v, origin: fromEnv}
				break
			}
		}
	}
	if s.Value != "" {
		// A value set for this very environment that loses is worth a
		// warning: it is most likely an AWS_PROFILE left exported.
		if sect.Value != "" && sect.Value != s.Value {
			s.Overrides = sect.Value + " from " + fileSource(file, sect)
		}
		return s
	}
	for _, fv := range []fileValue{sect, defs} {
		if fv.Value != "" {
			return setting{Value: fv.Value, Source: fileSource(file, fv), origin: fromFile}
		}
	}
	return setting{}
}

func fileSource(file *configFile, fv fileValue) string {
	return fmt.Sprintf("%s:%d (%s)", file.Path, fv.Line, fv.Key)
}

// configuration returns the config file, loading it on first use.
func (g *globalOptions) configuration() (*configFile, error) {
	if g.cfgFile == nil {
		c, err := loadConfig(g.configPath, os.Getenv)
		if err != nil {
			return nil, err
		}
		g.cfgFile = c
	}
	return g.cfgFile, nil
}

// settingsFor resolves the settings for env ("" for none) from the flags,
// the environment and the config file, and warns on ios when a flag or
// variable overrides what the file sets for env.
func (g *globalOptions) settingsFor(ios *IOStreams, env string) (settings, error) {
	file, err := g.configuration()
	if err != nil {
		return settings{}, err
	}
	s, err := resolveSettings(env, g.flagSettings(), os.Getenv, file)
	if err != nil {
		return settings{}, err
	}
	for _, x := range []struct {
		name string
		s    setting
	}{{"profile", s.Profile}, {"region", s.Region}, {"project", s.Project}} {
		switch {
		case x.s.Overrides == "" || ios == nil:
		case x.s.Source == sourceEnvKeys:
			ios.Infof("using the credentials in AWS_ACCESS_KEY_ID, not profile %s", x.s.Overrides)
		default:
			ios.Infof("using %s %s from %s, not %s", x.name, x.s.Value, x.s.Source, x.s.Overrides)
		}
	}
	return s, nil
}

func (g *globalOptions) flagSettings() flagSettings {
	return flagSettings{profile: g.aws.profile, region: g.aws.region, project: g.project}
}
