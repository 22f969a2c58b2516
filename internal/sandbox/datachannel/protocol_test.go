//go:build unix

package datachannel

import (
	"errors"
	"net/http"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/session-manager-plugin/src/message"
	"github.com/gorilla/websocket"
	"github.com/twinj/uuid"
)

func TestOutputWaitsForTheFirstSize(t *testing.T) {
	f := newFixture(t, Options{})
	sess := f.add("/bin/sh")
	c := f.dialRaw(sess.ID, sess.Token)
	c.handshake()

	s := f.session(sess.ID)
	eventually(t, "the prompt is read from the pty", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return strings.Contains(string(s.pending), DefaultPrompt)
	})
	select {
	case m := <-c.frames:
		t.Fatalf("frame %d (ptype %d) sent before the first Size", m.SequenceNumber, m.PayloadType)
	default:
	}

	c.resize(100, 30)
	out, frames := c.readUntil(DefaultPrompt, false)
	if frames[0].SequenceNumber != 2 || frames[0].PayloadType != uint32(message.Output) {
		t.Errorf("first output frame: seq %d ptype %d; want seq 2 ptype 1",
			frames[0].SequenceNumber, frames[0].PayloadType)
	}
	if cols, rows, err := f.proc(sess.ID).size(); err != nil || cols != 100 || rows != 30 {
		t.Errorf("pty size %dx%d (%v); want the client's 100x30", cols, rows, err)
	}
	f.events.wait(t, sess.ID, EventFirstOutput)
	if got := f.events.kinds(sess.ID); !slices.Equal(got, []EventKind{
		EventConnected, EventReady, EventFirstOutput}) {
		t.Errorf("events %v; want connected, ready, first-output (output %q)", got, out)
	}
}

func TestUnacknowledgedOutputIsResent(t *testing.T) {
	f := newFixture(t, Options{})
	sess := f.add("/bin/sh")
	c := f.dialRaw(sess.ID, sess.Token)
	c.handshake()
	c.resize(80, 24)

	first := c.frame()
	again := c.frame()
	if again.SequenceNumber != first.SequenceNumber || string(again.Payload) != string(first.Payload) {
		t.Fatalf("after leaving frame %d unacked, got frame %d %q; want the same frame again",
			first.SequenceNumber, again.SequenceNumber, again.Payload)
	}
	if again.CreatedDate != first.CreatedDate || !uuid.Equal(again.MessageId, first.MessageId) {
		t.Errorf("the resent frame was rebuilt; want the same frame sent again")
	}
	c.ack(first)
	s := f.session(sess.ID)
	eventually(t, "the ack empties the outbox", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.out.pending() == 0
	})
}

func TestInputIsAckedAtOnceAndProcessedInOrder(t *testing.T) {
	f := newFixture(t, Options{})
	sess := f.add("/bin/sh")
	c := f.dialRaw(sess.ID, sess.Token)
	c.handshake()
	c.resize(80, 24)
	c.readUntil(DefaultPrompt, false)

	dup := c.send(message.Output, "echo $((40+1))\n")
	c.sendAt(dup, message.Output, "echo $((40+1))\n")
	// Two halves of one command line, the second half first.
	first, second := c.next, c.next+1
	c.next += 2
	c.sendAt(second, message.Output, "33))\n")
	c.sendAt(first, message.Output, "echo $((600+")
	c.send(message.Output, "echo end-$((50+2))\n")

	out, _ := c.readUntil("end-52", false)
	if n := strings.Count(out, "41\r\n"); n != 1 {
		t.Errorf("the duplicated command ran %d times; want once. Output: %q", n, out)
	}
	if !strings.Contains(out, "633") {
		t.Errorf("the early half was not put back in order. Output: %q", out)
	}
	for seq, want := range map[int64]int{dup: 2, first: 1, second: 1} {
		if got := c.acked(seq); got != want {
			t.Errorf("input %d acked %d times; want %d", seq, got, want)
		}
	}
}

func TestDialsWithoutAValidTokenAreRefused(t *testing.T) {
	f := newFixture(t, Options{})
	sess := f.add("/bin/sh")

	if got := f.httpStatus("ecs-execute-command-unknown"); got != http.StatusNotFound {
		t.Errorf("dial of an unknown session: HTTP %d; want 404", got)
	}

	bad := f.dialRaw(sess.ID, "not-the-token")
	var ce *websocket.CloseError
	if err := bad.closed(); !errors.As(err, &ce) || ce.Code != websocket.ClosePolicyViolation {
		t.Errorf("bad token: connection ended with %v; want close code 1008", err)
	}
	if len(bad.frames) != 0 {
		t.Errorf("bad token: %d frames sent; want none", len(bad.frames))
	}
	if e := f.events.wait(t, sess.ID, EventRefused); !strings.Contains(e.Detail, "token") {
		t.Errorf("refused event detail %q; want it to name the token", e.Detail)
	}

	good := f.dialRaw(sess.ID, sess.Token)
	good.handshake()

	again := f.dialRaw(sess.ID, sess.Token)
	if err := again.closed(); !errors.As(err, &ce) || ce.Code != websocket.ClosePolicyViolation {
		t.Errorf("reused token: connection ended with %v; want close code 1008", err)
	}
	if got := f.events.kinds(sess.ID); slices.Contains(got, EventDisconnected) {
		t.Errorf("a refused dial disturbed the live connection: events %v", got)
	}
}

func TestDropClosesTheSocketAbruptlyAndKillsTheShell(t *testing.T) {
	f := newFixture(t, Options{})
	sess := f.add("/bin/sh")
	c := f.dialRaw(sess.ID, sess.Token)
	c.handshake()
	c.resize(80, 24)
	c.readUntil(DefaultPrompt, false)
	c.send(message.Output, "sleep 1000 &\n")
	p := f.proc(sess.ID)
	eventually(t, "the background job runs", func() bool { return len(sessionMembers(p.pid)) > 0 })
	job := sessionMembers(p.pid)[0]

	f.srv.Drop(sess.ID)

	var ce *websocket.CloseError
	if err := c.closed(); !errors.As(err, &ce) || ce.Code != websocket.CloseAbnormalClosure {
		t.Errorf("connection ended with %v; want an abrupt close (1006)", err)
	}
	for len(c.frames) > 0 {
		if m := <-c.frames; m.MessageType == message.ChannelClosedMessage {
			t.Errorf("Drop sent channel_closed")
		}
	}
	if e := f.events.wait(t, sess.ID, EventClosed); e.Detail != "dropped" {
		t.Errorf("closed event detail %q; want dropped", e.Detail)
	}
	eventually(t, "the shell and its background job are gone", func() bool {
		return gone(p.pid) && gone(job)
	})
	if got := f.httpStatus(sess.ID); got != http.StatusNotFound {
		t.Errorf("dial after Drop: HTTP %d; want 404", got)
	}
	if _, ok := f.srv.Resume(sess.ID); ok {
		t.Errorf("Resume after Drop succeeded")
	}
}

func TestTerminateEndsWithChannelClosed(t *testing.T) {
	f := newFixture(t, Options{})
	sess := f.add("/bin/sh")
	c := f.dialRaw(sess.ID, sess.Token)
	c.handshake()
	c.resize(80, 24)
	c.readUntil(DefaultPrompt, false)

	if !f.srv.Terminate(sess.ID) {
		t.Fatalf("Terminate of a live session returned false")
	}
	m := c.frame()
	if m.MessageType != message.ChannelClosedMessage {
		t.Fatalf("got %s frame; want channel_closed", m.MessageType)
	}
	if cc, err := m.DeserializeChannelClosedMessage(silentLog{}); err != nil || cc.Output != "" ||
		cc.SessionId != sess.ID {
		t.Errorf("channel_closed %+v (%v); want session %s with empty output", cc, err, sess.ID)
	}
	f.events.wait(t, sess.ID, EventClosed)
	got := f.events.kinds(sess.ID)
	if !slices.Equal(got[len(got)-2:], []EventKind{EventShellExited, EventClosed}) {
		t.Errorf("events %v; want shell-exited then closed at the end", got)
	}
	if !f.srv.Terminate(sess.ID) {
		t.Errorf("Terminate of an ended session returned false; want true (idempotent)")
	}
	if f.srv.Terminate("ecs-execute-command-unknown") {
		t.Errorf("Terminate of an unknown session returned true")
	}
	if _, ok := f.srv.Resume(sess.ID); ok {
		t.Errorf("Resume after Terminate succeeded")
	}
}

func TestOneShotOutputFromBeforeTheHandshakeIsDelivered(t *testing.T) {
	f := newFixture(t, Options{})
	sess := f.add("echo early-$((1+2))")
	c := f.dialRaw(sess.ID, sess.Token)
	c.handshake()
	f.events.wait(t, sess.ID, EventShellExited)

	c.resize(80, 24)
	c.readUntil("early-3", false)
	if m := c.frame(); m.MessageType != message.ChannelClosedMessage {
		t.Errorf("after the output: %s frame; want channel_closed", m.MessageType)
	}
}

func TestAProcessThatCannotStartEndsTheSessionWithTheReason(t *testing.T) {
	f := newFixture(t, Options{})
	sess := Session{ID: "ecs-execute-command-nodir", Token: "tok", Command: "/bin/sh",
		Dir: filepath.Join(t.TempDir(), "missing")}
	f.srv.Add(sess)
	c := f.dialRaw(sess.ID, sess.Token)

	var m *message.ClientMessage
	for m = c.frame(); m.MessageType != message.ChannelClosedMessage; m = c.frame() {
		c.ack(m)
	}
	cc, err := m.DeserializeChannelClosedMessage(silentLog{})
	if err != nil || !strings.Contains(cc.Output, "missing") {
		t.Errorf("channel_closed output %q (%v); want the start error naming the directory",
			cc.Output, err)
	}
	if e := f.events.wait(t, sess.ID, EventClosed); !strings.HasPrefix(e.Detail, "channel_closed") {
		t.Errorf("closed event detail %q", e.Detail)
	}
}

func TestResumedClientCarriesOnWithTheSameSequence(t *testing.T) {
	f := newFixture(t, Options{})
	sess := f.add("/bin/sh")
	c := f.dialRaw(sess.ID, sess.Token)
	c.handshake()
	c.resize(80, 24)
	c.readUntil(DefaultPrompt, false)
	c.send(message.Output, "echo $((8*8))\n")
	c.readUntil("64\r\n"+DefaultPrompt, false)

	c.send(message.Output, "echo $((9*9))\n")
	_, unacked := c.readUntil("81\r\n"+DefaultPrompt, true)
	_ = c.ws.UnderlyingConn().Close() // the network goes away
	f.events.wait(t, sess.ID, EventDisconnected)

	token, ok := f.srv.Resume(sess.ID)
	if !ok {
		t.Fatalf("Resume of a session whose client is away failed")
	}
	var ce *websocket.CloseError
	if err := f.dialRaw(sess.ID, sess.Token).closed(); !errors.As(err, &ce) ||
		ce.Code != websocket.ClosePolicyViolation {
		t.Errorf("redial with the first token ended with %v; want close code 1008", err)
	}
	r := f.dialRaw(sess.ID, token)
	r.next = c.next
	for _, want := range unacked {
		got := r.frame()
		if got.SequenceNumber != want.SequenceNumber || string(got.Payload) != string(want.Payload) {
			t.Fatalf("after resume got frame %d %q; want the unacked frame %d %q resent",
				got.SequenceNumber, got.Payload, want.SequenceNumber, want.Payload)
		}
		r.ack(got)
	}
	r.send(message.Output, "echo $((7*7))\n")
	r.readUntil("49", false)

	if got := f.events.kinds(sess.ID); !slices.Equal(got, []EventKind{
		EventConnected, EventReady, EventFirstOutput, EventDisconnected, EventRefused,
		EventConnected}) {
		t.Errorf("events %v", got)
	}
}

func TestAnAbsentClientIsGivenUpAfterTheResumeWindow(t *testing.T) {
	f := newFixture(t, Options{ResumeWindow: 200 * time.Millisecond})
	sess := f.add("/bin/sh")
	c := f.dialRaw(sess.ID, sess.Token)
	c.handshake()
	c.resize(80, 24)
	c.readUntil(DefaultPrompt, false)
	p := f.proc(sess.ID)

	_ = c.ws.UnderlyingConn().Close()
	f.events.wait(t, sess.ID, EventDisconnected)
	if e := f.events.wait(t, sess.ID, EventClosed); e.Detail != "client did not come back" {
		t.Errorf("closed event detail %q", e.Detail)
	}
	eventually(t, "the shell is killed", func() bool { return gone(p.pid) })
	if _, ok := f.srv.Resume(sess.ID); ok {
		t.Errorf("Resume after the window succeeded")
	}
}

func TestCtrlCInterruptsTheForegroundJobNotTheShell(t *testing.T) {
	f := newFixture(t, Options{})
	sess := f.add("/bin/sh")
	c := f.dialRaw(sess.ID, sess.Token)
	c.handshake()
	c.resize(80, 24)
	c.readUntil(DefaultPrompt, false)
	p := f.proc(sess.ID)

	c.send(message.Output, "sleep 30\n")
	eventually(t, "sleep is the foreground job", func() bool { return foreground(t, p) != p.pid })
	c.send(message.Output, "\x03")
	eventually(t, "the shell is back in the foreground", func() bool {
		return foreground(t, p) == p.pid
	})
	c.send(message.Output, "echo alive-$((1+1))\n")
	c.readUntil("alive-2", false)
}

func TestCloseEndsEverythingAndLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	var events eventLog
	srv := NewServer(Options{OnEvent: events.add})
	hs := &fixture{t: t, srv: srv, events: &events, log: &syncLog{}}
	hs.http = newLoopbackServer(t, srv)

	connected := hs.add("/bin/sh")
	c := hs.dialRaw(connected.ID, connected.Token)
	c.handshake()
	c.resize(80, 24)
	c.readUntil(DefaultPrompt, false)
	p1 := hs.proc(connected.ID)

	away := hs.add("/bin/sh")
	a := hs.dialRaw(away.ID, away.Token)
	a.handshake()
	p2 := hs.proc(away.ID)
	_ = a.ws.UnderlyingConn().Close()
	events.wait(t, away.ID, EventDisconnected)
	hs.add("/bin/sh") // never connected

	srv.Close()
	if m := c.frame(); m.MessageType != message.ChannelClosedMessage {
		t.Errorf("connected client got %s at Close; want channel_closed", m.MessageType)
	}
	if !gone(p1.pid) || !gone(p2.pid) {
		t.Errorf("shells still running after Close")
	}
	for _, id := range []string{connected.ID, away.ID} {
		if got := events.kinds(id); got[len(got)-1] != EventClosed {
			t.Errorf("session %s: events %v; want closed last, delivered before Close returned", id, got)
		}
	}
	if got := hs.httpStatus(connected.ID); got != http.StatusNotFound {
		t.Errorf("dial after Close: HTTP %d; want 404", got)
	}
	_ = c.ws.Close()
	hs.http.Close()
	eventually(t, "goroutines return to their number before the server", func() bool {
		return runtime.NumGoroutine() <= before
	})
}
