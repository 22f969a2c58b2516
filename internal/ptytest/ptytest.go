//go:build unix

// Package ptytest runs a child process on a pseudo-terminal for tests and
// keeps everything it printed. Only _test.go files import it.
package ptytest

import (
	"io"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// exitTimeout only keeps a broken test from hanging; it measures nothing.
const exitTimeout = 10 * time.Second

// Term is a child process on a pseudo-terminal and everything it printed.
type Term struct {
	// PTY is the master side: what the user's terminal emulator would hold.
	PTY *os.File

	t    testing.TB
	done chan struct{}
	err  error // Wait's result, once done is closed

	mu  sync.Mutex
	out []byte
}

// Start starts cmd as a session leader on a new 120x40 pseudo-terminal,
// its controlling terminal, and collects its output. When the test ends
// the child is killed if it still runs, and if the test failed its output
// is logged.
func Start(t testing.TB, cmd *exec.Cmd) *Term {
	t.Helper()
	ptm, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: 120, Rows: 40})
	if err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	p := &Term{PTY: ptm, t: t, done: make(chan struct{})}
	go p.read()
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
		_ = ptm.Close()
		if t.Failed() {
			t.Logf("terminal:\n%q", p.Output())
		}
	})
	return p
}

func (p *Term) read() {
	buf := make([]byte, 4096)
	for {
		n, err := p.PTY.Read(buf)
		p.mu.Lock()
		p.out = append(p.out, buf[:n]...)
		p.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// Output returns everything the child has printed so far.
func (p *Term) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return string(p.out)
}

// Len returns the length of Output, to look only at what comes after it.
func (p *Term) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.out)
}

// Type writes s to the terminal as a user typing would, failing the test
// if it cannot.
func (p *Term) Type(s string) {
	p.t.Helper()
	if _, err := io.WriteString(p.PTY, s); err != nil {
		p.t.Fatalf("type %q: %v", s, err)
	}
}

// Done is closed when the child has exited; Err is then Wait's result.
func (p *Term) Done() <-chan struct{} { return p.done }

// Err is the child's Wait result. It is valid only once Done is closed.
func (p *Term) Err() error { return p.err }

// ExitCode waits for the child to exit and returns its exit code. It fails
// the test if the child does not exit within 10 seconds or could not be
// waited for.
func (p *Term) ExitCode() int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(exitTimeout):
		p.t.Fatalf("the child did not exit within %v", exitTimeout)
	}
	if ee, ok := p.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if p.err != nil {
		p.t.Fatalf("wait for the child: %v", p.err)
	}
	return 0
}
