package exec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// The plugin's banners (session.go and datachannel/streaming.go), each
// written to stdout by one Fprintf, i.e. one write(2) of far less than
// PIPE_BUF: the pipe delivers each of them whole.
func startBanner(id string) string { return "\nStarting session with SessionId: " + id + "\n" }
func endBanner(id string) string   { return "\n\nExiting session with sessionId: " + id + ".\n\n" }

// lostBanner is what the plugin prints when the connection dropped and
// ResumeSession gave it no token to reconnect with (sessionhandler.go); it
// then exits 0 as after a normal end, so the banner is the only way to tell.
func lostBanner(id string) string { return "Session: " + id + " timed out.\n" }

// bannerFilter passes the child's stdout through unchanged, except for the
// plugin's start banner when it opens the stream and its end banner when it
// closes it. It holds bytes back only while they can still be a banner, so
// interactive output is not delayed.
type bannerFilter struct {
	w          io.Writer
	start, end []byte
	lost       []byte
	sawLost    bool // the stream ended with the lost banner
	started    bool
	head       []byte // held while it may still become the start banner
	tail       []byte // held while it may be (the start of) the end banner
}

func newBannerFilter(w io.Writer, sessionID string) *bannerFilter {
	return &bannerFilter{w: w,
		start: []byte(startBanner(sessionID)), end: []byte(endBanner(sessionID)),
		lost: []byte(lostBanner(sessionID))}
}

// write takes one read's worth of output. cut reports that the read filled
// its buffer, so the chunk may end in the middle of a write of the child's.
func (f *bannerFilter) write(p []byte, cut bool) error {
	if !f.started {
		f.head = append(f.head, p...)
		if len(f.head) < len(f.start) && bytes.HasPrefix(f.start, f.head) {
			return nil
		}
		f.started = true
		p = bytes.TrimPrefix(f.head, f.start)
		f.head = nil
	}

	data := p
	if len(f.tail) > 0 {
		data = append(f.tail, p...)
	}
	// The end banner counts only as the last thing the child writes, so a
	// complete one is held until either more output or the end proves which
	// it is. A chunk that was not cut ends where one of the child's writes
	// ended, so a partial banner there is ordinary output and is not held:
	// a trailing newline is never delayed.
	hold := 0
	switch {
	case bytes.HasSuffix(data, f.end):
		hold = len(f.end)
	case bytes.HasSuffix(data, f.lost):
		hold = len(f.lost)
	case cut:
		hold = max(partialSuffix(data, f.end), partialSuffix(data, f.lost))
	}
	keep := len(data) - hold
	f.tail = append(f.tail[:0:0], data[keep:]...)
	if keep == 0 {
		return nil
	}
	_, err := f.w.Write(data[:keep])
	return err
}

// flush writes what is held at the end of the stream, less an end banner.
func (f *bannerFilter) flush() error {
	rest := f.head
	if f.started {
		rest = f.tail
		switch {
		case bytes.Equal(rest, f.end):
			rest = nil
		case bytes.Equal(rest, f.lost):
			rest, f.sawLost = nil, true
		}
	}
	f.head, f.tail = nil, nil
	if len(rest) == 0 {
		return nil
	}
	_, err := f.w.Write(rest)
	return err
}

// partialSuffix returns the length of the longest proper prefix of banner
// that data ends with.
func partialSuffix(data, banner []byte) int {
	for n := min(len(data), len(banner)-1); n > 0; n-- {
		if bytes.HasSuffix(data, banner[:n]) {
			return n
		}
	}
	return 0
}

// copyOutput copies the child's stdout from r through a banner filter to w
// until r ends, passing each read on at once. After a write to w fails it
// calls failed once and keeps reading, discarding, so the child never blocks
// on a full pipe; it returns the first write error. lost reports that the
// plugin ended by giving up on a dropped connection.
func copyOutput(r io.Reader, w io.Writer, sessionID string, failed func()) (lost bool, err error) {
	f := newBannerFilter(w, sessionID)
	err = copyFiltered(r, f, failed)
	return f.sawLost, err
}

func copyFiltered(r io.Reader, f *bannerFilter, failed func()) error {
	buf := make([]byte, 32*1024)
	var werr error
	for {
		n, err := r.Read(buf)
		if n > 0 && werr == nil {
			if werr = f.write(buf[:n], n == len(buf)); werr != nil {
				failed()
			}
		}
		if err != nil {
			if werr == nil && (errors.Is(err, io.EOF) || errors.Is(err, os.ErrClosed)) {
				werr = f.flush()
			}
			if werr != nil {
				return fmt.Errorf("write session output: %w", werr)
			}
			if !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrClosed) {
				return fmt.Errorf("read session output: %w", err)
			}
			return nil
		}
	}
}

// feedInput copies r to the child's stdin pipe w. It does not close w at the
// end of r: the plugin ends the session at once on stdin EOF and loses the
// output still in flight (reference P13), so Run closes w only once the child
// has exited.
func feedInput(w io.Writer, r io.Reader) {
	buf := make([]byte, 32*1024)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// lfWriter writes what it is given with every "\r\n" turned into "\n". A
// final '\r' is held until the next write shows whether a '\n' follows;
// flush writes it out at the end.
type lfWriter struct {
	w         io.Writer
	pendingCR bool
}

func (l *lfWriter) Write(p []byte) (int, error) {
	out := make([]byte, 0, len(p)+1)
	if l.pendingCR {
		if len(p) == 0 || p[0] != '\n' {
			out = append(out, '\r')
		}
		l.pendingCR = false
	}
	for i := 0; i < len(p); i++ {
		switch {
		case p[i] == '\r' && i+1 < len(p) && p[i+1] == '\n':
			// drop it: the '\n' follows
		case p[i] == '\r' && i+1 == len(p):
			l.pendingCR = true
		default:
			out = append(out, p[i])
		}
	}
	if _, err := l.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (l *lfWriter) flush() error {
	if !l.pendingCR {
		return nil
	}
	l.pendingCR = false
	_, err := l.w.Write([]byte{'\r'})
	return err
}
