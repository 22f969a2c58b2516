// Package datachannel is the sandbox's stand-in for the AWS Session Manager
// message gateway together with the SSM agent: a WebSocket server that the
// real session-manager-plugin library connects to, with a real shell in a
// pseudo-terminal behind it.
//
// It speaks the protocol described in the project's reference
// ssm-data-channel.md (cited in comments as "reference §n" and "Pn" for its
// pitfalls): the token check on the first text frame, the handshake,
// sequenced and acknowledged binary frames with resends in both directions,
// resizes, channel_closed at the end, and reconnects after ResumeSession.
//
// A Session is registered with Add when ExecuteCommand creates it. Its
// process (an interactive shell or a one-shot command) starts when the client
// first connects; its output is held back until the client's first Size
// message, which is when the plugin can display it. The session ends when the
// process exits (output flushed and acknowledged, then channel_closed), on
// Terminate, on Drop (abruptly, as when the task dies), when a disconnected
// client does not come back within the resume window, or on Close.
package datachannel

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// PathPrefix is the URL path under which ServeHTTP expects
// /v1/data-channel/<session-id>, the path of the real gateway.
const PathPrefix = "/v1/data-channel/"

// StreamURL returns the streamUrl an ExecuteCommand response carries for a
// server listening on hostPort (such as "127.0.0.1:40123"). The scheme is
// plain ws: the plugin cannot be given a test CA for wss (reference §1.6).
func StreamURL(hostPort, sessionID string) string {
	return "ws://" + hostPort + PathPrefix + sessionID + "?role=publish_subscribe"
}

// Session is one ECS Exec session the server will accept.
type Session struct {
	// ID is the session id, such as "ecs-execute-command-0123456789abcdef0",
	// and the last segment of the stream URL's path.
	ID string
	// Token is the TokenValue the client must present in its first frame. It
	// opens one connection; reconnects need a token from Resume.
	Token string
	// Command is what runs in the pseudo-terminal. A lone shell name or path
	// ("", "sh", "/bin/sh", "bash", "/bin/bash", ash, dash, zsh, ksh) starts
	// that shell interactively; anything else runs once as
	// `/bin/sh -c Command`. Either way the session ends when it exits.
	Command string
	// Dir is the process's working directory: the folder standing for the
	// EFS root.
	Dir string
	// Env is the process's environment; nil means DefaultEnv(Dir).
	Env []string
}

// Options configure a Server. All fields are optional.
type Options struct {
	// Logf receives a verbose protocol log (never tokens); nil is silent. It
	// is called from many goroutines at once.
	Logf func(format string, args ...any)
	// OnEvent receives every Event. It is called from a single goroutine, in
	// the order the events happened, never while the server holds a lock, so
	// it may call the Server's methods (except Close). Later events wait
	// while it runs, so it should return promptly.
	OnEvent func(Event)
	// ResumeWindow is how long a session whose client disconnected without
	// channel_closed stays alive for a reconnect after Resume. Zero means
	// 30 seconds.
	ResumeWindow time.Duration
}

// EventKind names what happened to a session.
type EventKind string

// The kinds of Event, in the order they normally occur. Connected and
// Disconnected can repeat when the client reconnects; Ready, FirstOutput,
// ShellExited and Closed happen at most once per session.
const (
	// EventRefused: a dial was refused (unknown or ended session, bad
	// token); Detail says why. SessionID is the id from the URL.
	EventRefused EventKind = "refused"
	// EventConnected: a token was accepted; Detail is "resumed" on a
	// reconnect.
	EventConnected EventKind = "connected"
	// EventReady: the first Size message arrived, so output may flow.
	EventReady EventKind = "ready"
	// EventFirstOutput: the first byte of process output was sent.
	EventFirstOutput EventKind = "first-output"
	// EventDisconnected: the client's socket went away without the session
	// ending; the resume window starts.
	EventDisconnected EventKind = "disconnected"
	// EventShellExited: the process ended; Detail is its exit status.
	EventShellExited EventKind = "shell-exited"
	// EventClosed: the session ended for good, the last event of a session
	// that was connected at least once. Detail starts with "channel_closed"
	// when channel_closed was sent, and otherwise says how it ended
	// ("dropped", "client did not come back", "server closed", ...).
	EventClosed EventKind = "closed"
)

// Event is one thing that happened to a session, stamped when it happened.
type Event struct {
	At        time.Time
	SessionID string
	Kind      EventKind
	Detail    string
}

// Server serves the data channel of the sessions added to it. It is safe for
// concurrent use.
type Server struct {
	opts   Options
	events *dispatcher
	// The zero Upgrader refuses cross-origin requests, which keeps web pages
	// in the operator's browser away from the sandbox shell; the plugin sends
	// no Origin header.
	upgrader websocket.Upgrader

	// Timings; fixed after NewServer except in tests.
	resumeWindow time.Duration // client away → session ends
	ackWait      time.Duration // process ended → channel_closed at the latest
	resendAfter  time.Duration // unacked output → sent again
	drainGrace   time.Duration // process ended → pty closed if still held open

	mu       sync.Mutex // taken before a session's mu, never after
	closed   bool
	sessions map[string]*session
	conns    map[*wsConn]struct{}

	connWG sync.WaitGroup // ServeHTTP calls and their resend loops
	runWG  sync.WaitGroup // processes, output pumps, finishers
}

// NewServer returns a Server with no sessions.
func NewServer(o Options) *Server {
	s := &Server{
		opts:         o,
		events:       newDispatcher(o.OnEvent),
		resumeWindow: 30 * time.Second,
		ackWait:      2 * time.Second,
		resendAfter:  250 * time.Millisecond,
		drainGrace:   500 * time.Millisecond,
		sessions:     make(map[string]*session),
		conns:        make(map[*wsConn]struct{}),
	}
	if o.ResumeWindow > 0 {
		s.resumeWindow = o.ResumeWindow
	}
	return s
}

// Add registers a session, replacing (and dropping) any session with the
// same id. After Close it does nothing.
func (s *Server) Add(sess Session) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.pruneLocked(time.Now())
	old := s.sessions[sess.ID]
	s.sessions[sess.ID] = newSession(s, sess)
	s.mu.Unlock()

	if old != nil {
		old.end("replaced by a new session with the same id", true)
	}
	s.logf("session %s: added (command %q, dir %s)", sess.ID, sess.Command, sess.Dir)
}

// tombstoneTTL is how long ended sessions are remembered, so that Terminate
// stays idempotent and refused dials can say "ended" rather than "unknown".
const tombstoneTTL = time.Hour

func (s *Server) pruneLocked(now time.Time) {
	for id, sess := range s.sessions {
		if at, ended := sess.endedAt(); ended && now.Sub(at) > tombstoneTTL {
			delete(s.sessions, id)
		}
	}
}

// Drop ends a session the way a dying task does: its processes are killed
// and its socket closed abruptly, without channel_closed, so the
// client goes looking for ResumeSession. Later dials are refused and Resume
// fails. Unknown or ended sessions are ignored.
func (s *Server) Drop(id string) {
	if sess := s.lookup(id); sess != nil {
		sess.end("dropped", true)
	}
}

// Terminate is SSM TerminateSession: it kills the session's process and ends
// the session cleanly (remaining output flushed, then channel_closed), in the
// background. It returns false only for an id that was never added (or was
// forgotten an hour after it ended); ending an ended session is a no-op.
func (s *Server) Terminate(id string) bool {
	sess := s.lookup(id)
	if sess == nil {
		return false
	}
	sess.terminate("terminated")
	return true
}

// Resume is SSM ResumeSession: for a session that is still alive (not
// dropped, terminated or ended, and within its resume window if the client
// is away) it returns a fresh single-use token for a reconnect. The
// reconnected client carries on with the same sequence numbers.
func (s *Server) Resume(id string) (token string, ok bool) {
	sess := s.lookup(id)
	if sess == nil {
		return "", false
	}
	return sess.resumeToken()
}

// ServeHTTP is the WebSocket endpoint. The session id is the last segment of
// the path (PathPrefix + id); query parameters and the SigV4 headers the
// plugin may send are ignored. Dials for unknown or ended sessions are
// refused with 404 before the upgrade; a bad token gets a close frame.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := path.Base(strings.TrimSuffix(r.URL.Path, "/"))
	sess := s.lookup(id)
	if sess == nil || !sess.alive() {
		why := "unknown session"
		if sess != nil {
			why = errSessionEnded.Error()
		}
		s.refused(id, why)
		http.Error(w, why, http.StatusNotFound)
		return
	}
	if !s.trackConnHandler() {
		http.Error(w, "server closed", http.StatusServiceUnavailable)
		return
	}
	defer s.connWG.Done()

	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		s.logf("session %s: upgrade: %v", id, err)
		return // Upgrade has replied to the client
	}
	c := newConn(ws)
	if !s.addConn(c) {
		c.abort()
		return
	}
	defer s.removeConn(c)
	defer c.abort()

	token, err := c.readOpen()
	if err != nil {
		s.refused(id, err.Error())
		c.refuse("bad open frame")
		return
	}
	if err := sess.attach(c, token); err != nil {
		s.refused(id, err.Error())
		c.refuse(err.Error())
		return
	}
	sess.serve(c)
}

// Close ends every session (processes killed; connected clients get
// channel_closed after their output is acknowledged, up to a couple of
// seconds), closes every connection and returns when all the server's
// goroutines have ended and every event has been delivered. Later dials are
// refused. It must not be called from OnEvent.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	sessions := make([]*session, 0, len(s.sessions))
	for _, sess := range s.sessions {
		sessions = append(sessions, sess)
	}
	s.mu.Unlock()

	for _, sess := range sessions {
		sess.shutdown()
	}
	s.runWG.Wait()

	s.mu.Lock()
	conns := make([]*wsConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.abort()
	}
	s.connWG.Wait()
	s.events.close()
}

func (s *Server) lookup(id string) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[id]
}

// trackConnHandler counts a ServeHTTP call in connWG unless the server is
// closed; the check and the Add are atomic so Close's Wait never races an Add.
func (s *Server) trackConnHandler() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.connWG.Add(1)
	return true
}

func (s *Server) addConn(c *wsConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) removeConn(c *wsConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
}

// startRun counts a new session process goroutine in runWG unless the server
// is closed. The check and the Add are atomic so Close's Wait never races an
// Add made while its count is zero.
func (s *Server) startRun(f func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.runWG.Add(1)
	go func() {
		defer s.runWG.Done()
		f()
	}()
	return true
}

// goRun runs f as one more goroutine Close waits for. It must only be called
// from a goroutine startRun started, which keeps the count above zero.
func (s *Server) goRun(f func()) {
	s.runWG.Add(1)
	go func() {
		defer s.runWG.Done()
		f()
	}()
}

// goConn is goRun for connection goroutines; it must only be called from a
// ServeHTTP call counted by trackConnHandler.
func (s *Server) goConn(f func()) {
	s.connWG.Add(1)
	go func() {
		defer s.connWG.Done()
		f()
	}()
}

func (s *Server) refused(id, why string) {
	s.logf("session %s: refused: %s", id, why)
	s.emit(id, EventRefused, why)
}

func (s *Server) logf(format string, args ...any) {
	if s.opts.Logf != nil {
		s.opts.Logf(format, args...)
	}
}

func (s *Server) emit(id string, kind EventKind, detail string) {
	s.emitAt(time.Now(), id, kind, detail)
}

func (s *Server) emitAt(at time.Time, id string, kind EventKind, detail string) {
	s.events.push(Event{At: at, SessionID: id, Kind: kind, Detail: detail})
}

// newToken returns an unguessable token for Resume.
func newToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}

// dispatcher delivers events to OnEvent in order on its own goroutine, so
// that the protocol never waits for the callback and the callback never runs
// under a server lock.
type dispatcher struct {
	fn     func(Event)
	mu     sync.Mutex
	cond   *sync.Cond
	queue  []Event
	closed bool
	done   chan struct{}
}

func newDispatcher(fn func(Event)) *dispatcher {
	d := &dispatcher{fn: fn, done: make(chan struct{})}
	d.cond = sync.NewCond(&d.mu)
	if fn == nil {
		d.closed = true
		close(d.done)
		return d
	}
	go d.loop()
	return d
}

func (d *dispatcher) push(e Event) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	d.queue = append(d.queue, e)
	d.cond.Signal()
}

func (d *dispatcher) loop() {
	defer close(d.done)
	for {
		d.mu.Lock()
		for len(d.queue) == 0 && !d.closed {
			d.cond.Wait()
		}
		if len(d.queue) == 0 {
			d.mu.Unlock()
			return
		}
		e := d.queue[0]
		d.queue = d.queue[1:]
		d.mu.Unlock()
		d.fn(e)
	}
}

// close delivers the queued events, then stops the goroutine.
func (d *dispatcher) close() {
	d.mu.Lock()
	d.closed = true
	d.cond.Broadcast()
	d.mu.Unlock()
	<-d.done
}
