package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/breakglass-dev/breakglass/internal/ecs"
	"github.com/breakglass-dev/breakglass/internal/naming"
)

// editDistance returns the optimal string alignment distance between a and
// b, ignoring case: the number of insertions, deletions, substitutions and
// swaps of adjacent characters that turn one into the other. Swaps count
// once because "PORD" for "PROD" is the typo fingers make.
func editDistance(a, b string) int {
	x, y := []rune(strings.ToLower(a)), []rune(strings.ToLower(b))
	// d[i][j] is the distance between x[:i] and y[:j].
	d := make([][]int, len(x)+1)
	for i := range d {
		d[i] = make([]int, len(y)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(x); i++ {
		for j := 1; j <= len(y); j++ {
			cost := 1
			if x[i-1] == y[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && x[i-1] == y[j-2] && x[i-2] == y[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(x)][len(y)]
}

// nearest returns the candidates closest to word, sorted, if any is close
// enough to be what was meant: within two edits (and fewer edits than word
// has characters), or starting with word when word has at least two
// characters. When word is itself a candidate, nothing is suggested: the
// mistake is elsewhere.
func nearest(word string, candidates []string) []string {
	if slices.Contains(candidates, word) {
		return nil
	}
	best, out := -1, []string(nil)
	seen := map[string]bool{}
	for _, c := range candidates {
		if seen[c] {
			continue
		}
		seen[c] = true
		d := editDistance(word, c)
		prefix := len(word) >= 2 && strings.HasPrefix(strings.ToLower(c), strings.ToLower(word))
		if !prefix && (d > 2 || d >= len([]rune(word))) {
			continue
		}
		if prefix {
			d = min(d, 2) // a prefix is as good as two edits
		}
		switch {
		case best < 0 || d < best:
			best, out = d, []string{c}
		case d == best:
			out = append(out, c)
		}
	}
	sort.Strings(out)
	return out
}

// hintedError replaces the hint of the error it wraps, keeping the error
// itself (and so its exit code) unchanged.
type hintedError struct {
	err  error
	hint string
}

func (e *hintedError) Error() string { return e.err.Error() }
func (e *hintedError) Unwrap() error { return e.err }
func (e *hintedError) Hint() string  { return e.hint }

// suggestTimeout bounds the extra ListClusters call made to suggest an
// environment; the error is reported either way.
const suggestTimeout = 3 * time.Second

// suggestEnv adds "did you mean X?" to the hint of an unknown-environment
// error (ecs.KindClusterNotFound), choosing X among the environments of the
// region (by the naming convention for project) and those the config file
// names. Any other error, or no close match, is returned unchanged.
func suggestEnv(ctx context.Context, sess *awsSession, file *configFile, project, env string,
	err error) error {
	if env == "" || ecs.KindOf(err) != ecs.KindClusterNotFound {
		return err
	}

	var candidates []string
	if file != nil {
		candidates = append(candidates, file.envNames()...)
	}
	ctx, cancel := context.WithTimeout(ctx, suggestTimeout)
	defer cancel()
	if clusters, lerr := sess.clusterNames(ctx); lerr == nil {
		for _, c := range clusters {
			if e, ok := naming.EnvFromCluster(project, c); ok {
				candidates = append(candidates, e)
			}
		}
	}

	near := nearest(env, candidates)
	if len(near) == 0 {
		return err
	}
	hint := "did you mean " + orList(near) + "?"
	var h interface{ Hint() string }
	if errors.As(err, &h) && h.Hint() != "" {
		hint += " " + h.Hint()
	}
	return &hintedError{err: err, hint: hint}
}

// suggestEnv is suggestEnv for a command's settings; an explicit --cluster
// leaves nothing to suggest.
func (g *globalOptions) suggestEnv(ctx context.Context, sess *awsSession, st settings,
	o naming.Overrides, err error) error {
	if o.Cluster != "" {
		return err
	}
	return suggestEnv(ctx, sess, g.cfgFile, st.Project.Value, st.Env, err)
}

// unknownCommand is the root's argument check: the root takes no arguments,
// so one is a mistyped command, answered with the nearest commands.
func unknownCommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	hint := "see '" + cmd.CommandPath() + " --help' for the commands"
	var names []string
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() {
			names = append(names, c.Name())
			names = append(names, c.Aliases...)
		}
	}
	if s := nearest(args[0], names); len(s) > 0 {
		for i := range s {
			s[i] = "'" + cmd.CommandPath() + " " + s[i] + "'"
		}
		hint = "did you mean " + orList(s) + "?"
	}
	return &usageError{msg: fmt.Sprintf("unknown command %q", args[0]), hint: hint}
}

// flagError turns pflag's parse errors into usage errors, with the nearest
// flag for an unknown one.
func flagError(cmd *cobra.Command, err error) error {
	hint := "see '" + cmd.CommandPath() + " --help'"
	if name, ok := strings.CutPrefix(err.Error(), "unknown flag: --"); ok {
		var names []string
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			if !f.Hidden {
				names = append(names, f.Name)
			}
		})
		if s := nearest(name, names); len(s) > 0 {
			for i := range s {
				s[i] = "--" + s[i]
			}
			hint = "did you mean " + orList(s) + "? " + hint
		}
	}
	return &usageError{msg: err.Error(), hint: hint}
}
