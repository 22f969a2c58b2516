package exec

import (
	"os"

	"golang.org/x/term"
)

// terminal is the state of the terminal on stdin, saved before the session.
type terminal struct {
	fd    int
	state *term.State
}

// saveTerminal returns the saved state of f, or nil if f is not a terminal
// or its state cannot be read (then there is nothing Run could restore).
func saveTerminal(f *os.File) *terminal {
	fd := int(f.Fd())
	if !term.IsTerminal(fd) {
		return nil
	}
	st, err := term.GetState(fd)
	if err != nil {
		return nil
	}
	return &terminal{fd: fd, state: st}
}

// restore puts the terminal back as it was saved. The plugin leaves it in
// -icanon even after a clean end (GNU stty rejects the saved state it
// passes), and in -icanon -echo when the child is killed (reference §6, P17).
func (t *terminal) restore() error {
	if t == nil {
		return nil
	}
	return term.Restore(t.fd, t.state)
}
