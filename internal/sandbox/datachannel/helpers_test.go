//go:build unix

package datachannel

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/aws/session-manager-plugin/src/message"
	"github.com/gorilla/websocket"
)

// waitTimeout bounds every wait in these tests; the waits end as soon as
// their condition holds, so it only matters when a test fails.
const waitTimeout = 10 * time.Second

// fixture is a Server behind an httptest server on 127.0.0.1, with its
// events and protocol log recorded.
type fixture struct {
	t      testing.TB
	srv    *Server
	http   *httptest.Server
	events *eventLog
	log    *syncLog
}

func newFixture(t testing.TB, o Options) *fixture {
	t.Helper()
	f := &fixture{t: t, events: &eventLog{}, log: &syncLog{}}
	o.OnEvent = f.events.add
	o.Logf = f.log.logf
	f.srv = NewServer(o)
	f.http = httptest.NewServer(f.srv)
	t.Cleanup(f.http.Close) // after srv.Close: it leaves hijacked sockets alone
	t.Cleanup(func() {
		f.srv.Close()
		if t.Failed() {
			t.Logf("server log:\n%s", f.log.String())
		}
	})
	return f
}

// add registers a session with a fresh id and a seeded EFS-root stand-in.
func (f *fixture) add(command string) Session {
	f.t.Helper()
	id := fmt.Sprintf("ecs-execute-command-%d", time.Now().UnixNano())
	sess := Session{ID: id, Token: "tok-" + id, Command: command, Dir: seededDir(f.t)}
	f.srv.Add(sess)
	return sess
}

func (f *fixture) streamURL(id string) string {
	return StreamURL(strings.TrimPrefix(f.http.URL, "http://"), id)
}

// session returns the server's state for id, for assertions about the
// process behind it.
func (f *fixture) session(id string) *session {
	f.t.Helper()
	s := f.srv.lookup(id)
	if s == nil {
		f.t.Fatalf("no session %s", id)
	}
	return s
}

func (f *fixture) proc(id string) *process {
	f.t.Helper()
	s := f.session(id)
	var p *process
	eventually(f.t, "the session's process starts", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		p = s.proc
		return p != nil
	})
	return p
}

// seededDir is an EFS root stand-in seeded like the real one.
func seededDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"mysql/data", "rabbitmq/data"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// eventually polls cond until it holds or waitTimeout passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// foreground returns the process group in the foreground of p's pty.
func foreground(t testing.TB, p *process) int {
	t.Helper()
	var pgid int32
	if err := p.ioctl(syscall.TIOCGPGRP, unsafe.Pointer(&pgid)); err != nil {
		t.Fatalf("foreground group of pty: %v", err)
	}
	return int(pgid)
}

// gone reports whether pid has ended: it no longer exists, or it is a
// zombie (an orphan waits for whatever PID 1 is to reap it).
func gone(pid int) bool {
	if syscall.Kill(pid, 0) == syscall.ESRCH {
		return true
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return os.IsNotExist(err)
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z'
}

// newLoopbackServer serves h on 127.0.0.1; the caller closes it.
func newLoopbackServer(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	return httptest.NewServer(h)
}

type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncLog) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(&l.b, time.Now().Format("15:04:05.000 ")+format+"\n", args...)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// eventLog records the server's events.
type eventLog struct {
	mu     sync.Mutex
	events []Event
}

func (l *eventLog) add(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

func (l *eventLog) of(id string) []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Event
	for _, e := range l.events {
		if e.SessionID == id {
			out = append(out, e)
		}
	}
	return out
}

func (l *eventLog) kinds(id string) []EventKind {
	var out []EventKind
	for _, e := range l.of(id) {
		out = append(out, e.Kind)
	}
	return out
}

// wait returns the first event of kind for id, waiting for it if needed.
func (l *eventLog) wait(t testing.TB, id string, kind EventKind) Event {
	t.Helper()
	var got Event
	eventually(t, fmt.Sprintf("session %s has a %s event", id, kind), func() bool {
		for _, e := range l.of(id) {
			if e.Kind == kind {
				got = e
				return true
			}
		}
		return false
	})
	return got
}

// rawClient is a bare-bones data channel client built on the plugin's
// message package, for protocol details the real plugin hides.
type rawClient struct {
	t      testing.TB
	ws     *websocket.Conn
	frames chan *message.ClientMessage // output_stream_data and channel_closed
	done   chan struct{}               // closed when the reader stops; then err is set
	err    error
	next   int64 // next input sequence number

	mu   sync.Mutex
	acks map[int64]int // input sequence number → acks received
}

// dialRaw connects to id and presents token in the open frame.
func (f *fixture) dialRaw(id, token string) *rawClient {
	f.t.Helper()
	ws, resp, err := websocket.DefaultDialer.Dial(f.streamURL(id), nil)
	if err != nil {
		f.t.Fatalf("dial session %s: %v (response %v)", id, err, resp)
	}
	c := &rawClient{
		t: f.t, ws: ws, acks: map[int64]int{},
		frames: make(chan *message.ClientMessage, 10000), done: make(chan struct{}),
	}
	f.t.Cleanup(func() { _ = ws.Close() })
	open, _ := json.Marshal(map[string]string{
		"MessageSchemaVersion": "1.0", "RequestId": "8b5d3c4e-0000-4000-8000-000000000001",
		"TokenValue": token, "ClientId": "test-client", "ClientVersion": "1.3.0.0",
	})
	if err := ws.WriteMessage(websocket.TextMessage, open); err != nil {
		f.t.Fatalf("send open frame: %v", err)
	}
	go c.read()
	return c
}

func (c *rawClient) read() {
	defer close(c.done)
	for {
		_, raw, err := c.ws.ReadMessage()
		if err != nil {
			c.err = err
			return
		}
		m := &message.ClientMessage{}
		if err := m.DeserializeClientMessage(silentLog{}, raw); err != nil {
			c.err = fmt.Errorf("client cannot parse server frame: %w", err)
			return
		}
		if err := m.Validate(); err != nil {
			c.err = fmt.Errorf("client rejects server frame: %w", err)
			return
		}
		if m.MessageType == message.AcknowledgeMessage {
			ack, err := m.DeserializeDataStreamAcknowledgeContent(silentLog{})
			if err != nil {
				c.err = err
				return
			}
			c.mu.Lock()
			c.acks[ack.SequenceNumber]++
			c.mu.Unlock()
			continue
		}
		c.frames <- m
	}
}

// frame returns the next output_stream_data or channel_closed frame.
func (c *rawClient) frame() *message.ClientMessage {
	c.t.Helper()
	select {
	case m := <-c.frames:
		return m
	case <-c.done:
		select {
		case m := <-c.frames:
			return m
		default:
		}
		c.t.Fatalf("connection ended while waiting for a frame: %v", c.err)
	case <-time.After(waitTimeout):
		c.t.Fatalf("timed out waiting for a frame")
	}
	return nil
}

// closed waits for the server to end the connection and returns the error
// the client saw.
func (c *rawClient) closed() error {
	c.t.Helper()
	select {
	case <-c.done:
		return c.err
	case <-time.After(waitTimeout):
		c.t.Fatalf("timed out waiting for the server to close the connection")
		return nil
	}
}

// ack acknowledges an output frame the way the plugin does.
func (c *rawClient) ack(m *message.ClientMessage) {
	c.t.Helper()
	raw, err := buildAck(m)
	if err == nil {
		err = c.ws.WriteMessage(websocket.BinaryMessage, raw)
	}
	if err != nil {
		c.t.Fatalf("ack frame %d: %v", m.SequenceNumber, err)
	}
}

// sendAt sends an input frame with an explicit sequence number.
func (c *rawClient) sendAt(seq int64, ptype message.PayloadType, payload string) {
	c.t.Helper()
	raw, err := clientFrameRaw(seq, ptype, payload)
	if err == nil {
		err = c.ws.WriteMessage(websocket.BinaryMessage, raw)
	}
	if err != nil {
		c.t.Fatalf("send input %d: %v", seq, err)
	}
}

// send sends the next input frame in sequence and returns its number.
func (c *rawClient) send(ptype message.PayloadType, payload string) int64 {
	c.t.Helper()
	seq := c.next
	c.next++
	c.sendAt(seq, ptype, payload)
	return seq
}

func (c *rawClient) acked(seq int64) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.acks[seq]
}

// handshake plays the plugin's side of reference §4 and checks the server's.
func (c *rawClient) handshake() {
	c.t.Helper()
	req := c.frame()
	if req.SequenceNumber != 0 || req.PayloadType != uint32(message.HandshakeRequestPayloadType) {
		c.t.Fatalf("first frame: seq %d ptype %d; want HandshakeRequest as seq 0",
			req.SequenceNumber, req.PayloadType)
	}
	c.ack(req)
	resp, _ := json.Marshal(message.HandshakeResponsePayload{
		ClientVersion: "1.3.0.0",
		ProcessedClientActions: []message.ProcessedClientAction{
			{ActionType: message.SessionType, ActionStatus: message.Success},
		},
	})
	c.send(message.HandshakeResponsePayloadType, string(resp))
	done := c.frame()
	if done.SequenceNumber != 1 || done.PayloadType != uint32(message.HandshakeCompletePayloadType) {
		c.t.Fatalf("second frame: seq %d ptype %d; want HandshakeComplete as seq 1",
			done.SequenceNumber, done.PayloadType)
	}
	if _, err := done.DeserializeHandshakeComplete(silentLog{}); err != nil {
		c.t.Fatalf("HandshakeComplete %s: %v", done.Payload, err)
	}
	c.ack(done)
}

// resize sends a Size message.
func (c *rawClient) resize(cols, rows int) {
	c.t.Helper()
	c.send(message.Size, fmt.Sprintf(`{"cols":%d,"rows":%d}`, cols, rows))
}

// readUntil collects output (acking it, unless noAck) until it contains
// want, and returns the output and the frames read. It checks that output
// frames arrive numbered without gaps, ignoring resent copies.
func (c *rawClient) readUntil(want string, noAck bool) (string, []*message.ClientMessage) {
	c.t.Helper()
	var out strings.Builder
	var frames []*message.ClientMessage
	seen := map[int64]bool{}
	for !strings.Contains(out.String(), want) {
		m := c.frame()
		if m.MessageType != message.OutputStreamMessage {
			c.t.Fatalf("got %s while waiting for %q in %q", m.MessageType, want, out.String())
		}
		if seen[m.SequenceNumber] {
			continue
		}
		seen[m.SequenceNumber] = true
		if !noAck {
			c.ack(m)
		}
		frames = append(frames, m)
		out.Write(m.Payload)
	}
	for i := 1; i < len(frames); i++ {
		if frames[i].SequenceNumber != frames[i-1].SequenceNumber+1 {
			c.t.Fatalf("output frame %d follows %d", frames[i].SequenceNumber, frames[i-1].SequenceNumber)
		}
	}
	return out.String(), frames
}

// httpStatus dials id and returns the HTTP status of a refused upgrade.
func (f *fixture) httpStatus(id string) int {
	f.t.Helper()
	ws, resp, err := websocket.DefaultDialer.Dial(f.streamURL(id), nil)
	if err == nil {
		_ = ws.Close()
		return http.StatusSwitchingProtocols
	}
	if resp == nil {
		f.t.Fatalf("dial session %s: %v", id, err)
	}
	return resp.StatusCode
}
