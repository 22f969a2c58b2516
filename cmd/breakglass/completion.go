package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/spf13/cobra"

	"github.com/breakglass-dev/breakglass/internal/ecs"
	"github.com/breakglass-dev/breakglass/internal/naming"
)

var completionShells = []string{"bash", "zsh", "fish", "powershell"}

func newCompletionCmd(ios *IOStreams) *cobra.Command {
	var noDesc bool
	cmd := &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print the shell completion script for bash, zsh, fish or PowerShell",
		Long: `completion prints a script that makes the shell complete breakglass's commands,
flags, environments and services. Load it once per session or install it.

  bash (needs the bash-completion package, version 2):
    source <(breakglass completion bash)                 # this session; add to ~/.bashrc
    breakglass completion bash > /etc/bash_completion.d/breakglass
    breakglass completion bash > "$(brew --prefix)/etc/bash_completion.d/breakglass"   # macOS

  zsh (compinit must be enabled: autoload -U compinit; compinit):
    source <(breakglass completion zsh)                  # this session; add to ~/.zshrc
    breakglass completion zsh > "${fpath[1]}/_breakglass"

  fish:
    breakglass completion fish > ~/.config/fish/completions/breakglass.fish

  PowerShell:
    breakglass completion powershell | Out-String | Invoke-Expression   # add to $PROFILE

ENV completes from the config file and from the region's clusters named
<project>-ECS-<ENV>; SERVICE from the breakglass services of that environment.
Both ask ECS with the profile and region the command would use, give up after
1.5 seconds, and keep the answer for 2 minutes in $XDG_CACHE_HOME/breakglass
(default ~/.cache/breakglass). When AWS cannot answer, nothing is completed.`,
		Example: `  source <(breakglass completion bash)
  breakglass completion zsh > "${fpath[1]}/_breakglass"
  breakglass completion fish --no-descriptions > ~/.config/fish/completions/breakglass.fish`,
		ValidArgs: completionShells,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return &usageError{msg: "expected a shell: " + orList(completionShells),
					hint: "usage: " + cmd.UseLine()}
			}
			if !slices.Contains(completionShells, args[0]) {
				hint := "the shells are " + orList(completionShells)
				if s := nearest(args[0], completionShells); len(s) > 0 {
					hint = "did you mean " + orList(s) + "? " + hint
				}
				return &usageError{msg: fmt.Sprintf("unknown shell %q", args[0]), hint: hint}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			root := cmd.Root()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(ios.Out, !noDesc)
			case "zsh":
				if noDesc {
					return root.GenZshCompletionNoDesc(ios.Out)
				}
				return root.GenZshCompletion(ios.Out)
			case "fish":
				return root.GenFishCompletion(ios.Out, !noDesc)
			}
			if noDesc {
				return root.GenPowerShellCompletion(ios.Out)
			}
			return root.GenPowerShellCompletionWithDesc(ios.Out)
		},
	}
	cmd.Flags().BoolVar(&noDesc, "no-descriptions", false, "complete without descriptions")
	return cmd
}

// Completion asks AWS at most for completionTimeout and keeps the answers
// for completionTTL: long enough that tabbing through one command line asks
// once, short enough that a new environment shows up within minutes.
const (
	completionTimeout = 1500 * time.Millisecond
	completionTTL     = 2 * time.Minute
)

// registerCompletions attaches the dynamic completions to the command tree:
// ENV and SERVICE arguments, and the flags whose values can be listed.
func registerCompletions(root *cobra.Command, g *globalOptions) {
	c := &completer{g: g, cache: newCompletionCache()}
	noFiles := cobra.NoFileCompletions

	_ = root.RegisterFlagCompletionFunc("profile", c.profiles)
	_ = root.RegisterFlagCompletionFunc("region", noFiles)
	_ = root.RegisterFlagCompletionFunc("project", noFiles)
	_ = root.RegisterFlagCompletionFunc("config", func(*cobra.Command, []string, string) (
		[]cobra.Completion, cobra.ShellCompDirective) {
		return []cobra.Completion{"yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt
	})

	for _, cmd := range root.Commands() {
		switch cmd.Name() {
		case "open", "close", "status":
			cmd.ValidArgsFunction = c.envService
		case "config":
			cmd.ValidArgsFunction = c.envOnly
		}
		for _, name := range []string{"cluster", "service", "container", "command", "wait",
			"addr", "start-delay", "agent-delay", "connect-delay"} {
			if cmd.Flags().Lookup(name) != nil {
				_ = cmd.RegisterFlagCompletionFunc(name, noFiles)
			}
		}
		if cmd.Flags().Lookup("efs-dir") != nil {
			_ = cmd.RegisterFlagCompletionFunc("efs-dir", func(*cobra.Command, []string, string) (
				[]cobra.Completion, cobra.ShellCompDirective) {
				return nil, cobra.ShellCompDirectiveFilterDirs
			})
		}
		if cmd.Flags().Lookup("output") != nil {
			_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(
				[]cobra.Completion{"table", "json"}, cobra.ShellCompDirectiveNoFileComp))
		}
	}
}

// completer completes from the config file and from AWS. It never prints:
// an error or a timeout completes nothing, and is only logged to cobra's
// debug file (BASH_COMP_DEBUG_FILE).
type completer struct {
	g     *globalOptions
	cache *completionCache
}

// envService completes ENV, then SERVICE.
func (c *completer) envService(cmd *cobra.Command, args []string, toComplete string) (
	[]cobra.Completion, cobra.ShellCompDirective) {
	switch len(args) {
	case 0:
		return filterPrefix(c.envs(cmd.Context(), cmd), toComplete), cobra.ShellCompDirectiveNoFileComp
	case 1:
		return filterPrefix(c.services(cmd.Context(), cmd, args[0]), toComplete),
			cobra.ShellCompDirectiveNoFileComp
	}
	return nil, cobra.ShellCompDirectiveNoFileComp
}

// envOnly completes ENV only, from the config file alone: 'config' is for
// checking settings and should not wait on AWS.
func (c *completer) envOnly(cmd *cobra.Command, args []string, toComplete string) (
	[]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	file, err := c.g.configuration()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return filterPrefix(configEnvCompletions(file), toComplete), cobra.ShellCompDirectiveNoFileComp
}

// envs returns the environments of the config file and of the region the
// command would use without ENV, as "ENV\tdescription".
func (c *completer) envs(ctx context.Context, cmd *cobra.Command) []string {
	file, err := c.g.configuration()
	if err != nil {
		cobra.CompDebugln("breakglass: "+err.Error(), false)
		return nil
	}
	out := configEnvCompletions(file)
	inFile := map[string]bool{}
	for name := range file.Environments {
		inFile[name] = true
	}

	st, err := c.g.settingsFor(nil, "")
	if err != nil {
		return out
	}
	key := c.cacheKey("envs", st, "", "")
	clusterEnvs, ok := c.cache.get(key)
	if !ok {
		clusterEnvs, err = c.listEnvs(ctx, st)
		if err != nil {
			cobra.CompDebugln("breakglass: list environments: "+err.Error(), false)
			return out
		}
		c.cache.put(key, clusterEnvs)
	}
	for _, e := range clusterEnvs {
		name, _, _ := strings.Cut(e, "\t")
		if !inFile[name] {
			out = append(out, e)
		}
	}
	sort.Strings(out)
	return out
}

func (c *completer) listEnvs(ctx context.Context, st settings) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, completionTimeout)
	defer cancel()
	sess, err := loadAWS(ctx, st.awsFlags(), &IOStreams{Err: io.Discard})
	if err != nil {
		return nil, err
	}
	clusters, err := sess.clusterNames(ctx)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, cl := range clusters {
		if env, ok := naming.EnvFromCluster(st.Project.Value, cl); ok {
			out = append(out, env+"\tcluster "+cl)
		}
	}
	sort.Strings(out)
	return out, nil
}

// services returns the breakglass services of env, as "SERVICE\tdescription".
func (c *completer) services(ctx context.Context, cmd *cobra.Command, env string) []string {
	if naming.Validate("environment", env) != nil {
		return nil
	}
	st, err := c.g.settingsFor(nil, env)
	if err != nil {
		cobra.CompDebugln("breakglass: "+err.Error(), false)
		return nil
	}
	cluster, _ := cmd.Flags().GetString("cluster")
	key := c.cacheKey("services", st, env, cluster)
	if out, ok := c.cache.get(key); ok {
		return out
	}

	ctx, cancel := context.WithTimeout(ctx, completionTimeout)
	defer cancel()
	sess, err := loadAWS(ctx, st.awsFlags(), &IOStreams{Err: io.Discard})
	if err != nil {
		cobra.CompDebugln("breakglass: "+err.Error(), false)
		return nil
	}
	list, err := sess.ecsClient(ecs.Options{}).Status(ctx, st.Project.Value, env, "",
		naming.Overrides{Cluster: cluster})
	if err != nil {
		cobra.CompDebugln("breakglass: list services: "+err.Error(), false)
		return nil
	}
	out := []string{}
	for _, s := range list {
		out = append(out, s.Service+"\tservice "+s.ECSService)
	}
	sort.Strings(out)
	c.cache.put(key, out)
	return out
}

// profiles completes --profile from the shared AWS config and credentials
// files, which it reads without asking AWS.
func (c *completer) profiles(cmd *cobra.Command, args []string, toComplete string) (
	[]cobra.Completion, cobra.ShellCompDirective) {
	seen := map[string]bool{}
	var out []string
	for _, f := range []struct {
		path   string
		config bool
	}{
		{envOr("AWS_CONFIG_FILE", config.DefaultSharedConfigFilename()), true},
		{envOr("AWS_SHARED_CREDENTIALS_FILE", config.DefaultSharedCredentialsFilename()), false},
	} {
		for _, p := range profileNames(f.path, f.config) {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	sort.Strings(out)
	return filterPrefix(out, toComplete), cobra.ShellCompDirectiveNoFileComp
}

// profileNames returns the profiles an INI file of the AWS CLI defines:
// "[profile NAME]" and "[default]" in the config file, "[NAME]" in the
// credentials file.
func profileNames(path string, configFile bool) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()

	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "[") || !strings.HasSuffix(line, "]") {
			continue
		}
		section := strings.TrimSpace(line[1 : len(line)-1])
		switch {
		case !configFile:
			out = append(out, section)
		case section == "default":
			out = append(out, section)
		default:
			if name, ok := strings.CutPrefix(section, "profile "); ok {
				out = append(out, strings.TrimSpace(name))
			}
		}
	}
	return out
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// configEnvCompletions describes the config file's environments.
func configEnvCompletions(file *configFile) []string {
	var out []string
	for _, name := range file.envNames() {
		s := file.Environments[name]
		var parts []string
		if s.Profile.Value != "" {
			parts = append(parts, "profile "+s.Profile.Value)
		}
		if s.Region.Value != "" {
			parts = append(parts, s.Region.Value)
		}
		desc := "config file"
		if len(parts) > 0 {
			desc += ": " + strings.Join(parts, ", ")
		}
		out = append(out, name+"\t"+desc)
	}
	return out
}

// filterPrefix keeps the completions whose value starts with prefix.
func filterPrefix(items []string, prefix string) []cobra.Completion {
	var out []cobra.Completion
	for _, it := range items {
		if strings.HasPrefix(it, prefix) {
			out = append(out, it)
		}
	}
	return out
}

// cacheKey identifies what a cached answer depends on: the settings, the
// endpoint and the identity. The key is hashed, so no credential identifier
// is written to disk.
func (c *completer) cacheKey(kind string, st settings, env, cluster string) string {
	parts := []string{kind, st.Profile.Value, st.Region.Value, st.Project.Value, env, cluster,
		os.Getenv("AWS_ENDPOINT_URL"), os.Getenv("AWS_ENDPOINT_URL_ECS"),
		os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_CONFIG_FILE")}
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:16])
}

// completionCache keeps completion answers in files, one per key, for ttl.
// It is best effort: any failure to read or write is a cache miss.
type completionCache struct {
	dir string // "" disables the cache
	ttl time.Duration
	now func() time.Time
}

// newCompletionCache returns the cache in $XDG_CACHE_HOME/breakglass, or
// else the platform's cache folder (os.UserCacheDir).
func newCompletionCache() *completionCache {
	dir := os.Getenv("XDG_CACHE_HOME")
	if dir == "" || !filepath.IsAbs(dir) {
		dir, _ = os.UserCacheDir()
	}
	if dir != "" {
		dir = filepath.Join(dir, "breakglass")
	}
	return &completionCache{dir: dir, ttl: completionTTL, now: time.Now}
}

type cacheEntry struct {
	At     time.Time `json:"at"`
	Values []string  `json:"values"`
}

func (c *completionCache) path(key string) string {
	return filepath.Join(c.dir, "complete-"+key+".json")
}

// get returns the values stored for key if they are younger than ttl.
func (c *completionCache) get(key string) ([]string, bool) {
	if c.dir == "" {
		return nil, false
	}
	data, err := os.ReadFile(c.path(key))
	if err != nil {
		return nil, false
	}
	var e cacheEntry
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, false
	}
	age := c.now().Sub(e.At)
	if age < 0 || age > c.ttl {
		return nil, false
	}
	return e.Values, true
}

// put stores values for key. The file is replaced by a rename, so that a
// completion running at the same time reads the old answer or the new one.
func (c *completionCache) put(key string, values []string) {
	if c.dir == "" {
		return
	}
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return
	}
	data, err := json.Marshal(cacheEntry{At: c.now(), Values: values})
	if err != nil {
		return
	}
	tmp, err := os.CreateTemp(c.dir, "complete-*.tmp")
	if err != nil {
		return
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if werr != nil || cerr != nil || os.Rename(tmp.Name(), c.path(key)) != nil {
		os.Remove(tmp.Name())
	}
}
