//go:build !unix

package datachannel

import (
	"errors"
	"os"
)

// errNoPty is returned on systems without Unix pseudo-terminals.
var errNoPty = errors.New("the sandbox shell needs a unix pseudo-terminal")

// process is a stand-in so the package builds everywhere; it never starts.
type process struct {
	master *os.File
	pid    int
}

func startProcess(spec Session) (*process, error) {
	return nil, errNoPty
}

func (p *process) setSize(cols, rows uint16) error { return errNoPty }
func (p *process) wait() string                    { return errNoPty.Error() }
func (p *process) kill()                           {}
func (p *process) killSession()                    {}
