package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"unicode"

	"golang.org/x/term"
)

// IOStreams carries the process's streams and what is known about them. No
// other code touches os.Stdin, os.Stdout or os.Stderr.
//
// Output rule: data (tables, JSON, a one-shot command's output) goes to Out;
// everything else goes to Err as lines prefixed "breakglass: ", lower case,
// no final period. Hints follow the error on their own line.
type IOStreams struct {
	In  *os.File
	Out io.Writer
	Err io.Writer

	// InFile, OutFile and ErrFile are the files behind the streams when
	// they are files; the session needs them to hand to its child.
	OutFile *os.File
	ErrFile *os.File

	StdinTTY  bool
	StdoutTTY bool
	StderrTTY bool
	Color     bool // colour and spinner allowed: stderr is a terminal and NO_COLOR is unset

	Quiet   bool
	Verbose bool

	mu sync.Mutex // serialises lines from the progress goroutines
}

// SystemStreams returns the streams of this process.
func SystemStreams() *IOStreams {
	s := &IOStreams{
		In:        os.Stdin,
		Out:       os.Stdout,
		Err:       os.Stderr,
		OutFile:   os.Stdout,
		ErrFile:   os.Stderr,
		StdinTTY:  term.IsTerminal(int(os.Stdin.Fd())),
		StdoutTTY: term.IsTerminal(int(os.Stdout.Fd())),
		StderrTTY: term.IsTerminal(int(os.Stderr.Fd())),
	}
	_, noColor := os.LookupEnv("NO_COLOR")
	s.Color = s.StderrTTY && !noColor && os.Getenv("TERM") != "dumb"
	return s
}

// Infof prints a status line on Err unless Quiet is set.
func (s *IOStreams) Infof(format string, args ...any) {
	if s.Quiet {
		return
	}
	s.Printf(format, args...)
}

// Printf prints a status line on Err even when Quiet is set: for what the
// operator must see (warnings, what was left open).
func (s *IOStreams) Printf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.Err, "breakglass: "+format+"\n", args...)
}

// Noticef prints a line like Printf that may interrupt a spinner: on a
// terminal it first clears the line the spinner is drawing on.
func (s *IOStreams) Noticef(format string, args ...any) {
	if s.Color {
		s.mu.Lock()
		fmt.Fprint(s.Err, "\r\x1b[K")
		s.mu.Unlock()
	}
	s.Printf(format, args...)
}

// printable drops the control characters from a value that came from AWS
// (a tag, say) before it is printed, so that it cannot drive the terminal.
func printable(v string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, v)
}

// Debugf prints a line on Err only with --verbose.
func (s *IOStreams) Debugf(format string, args ...any) {
	if !s.Verbose {
		return
	}
	s.Printf(format, args...)
}
