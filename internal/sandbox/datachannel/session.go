package datachannel

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/session-manager-plugin/src/message"
)

const (
	// maxFramePayload bounds the payload of one output frame. A pty read
	// returns at most a few KiB; only output held back before the first Size
	// is larger.
	maxFramePayload = 32 << 10
	// maxPendingOutput bounds the output held back before the first Size;
	// beyond it the pump stops reading and the process blocks on the pty.
	maxPendingOutput = 1 << 20
	// sendWindow bounds the output frames awaiting an ack; beyond it the
	// pump stops reading, which throttles the process instead of piling up
	// memory for a client that is away.
	sendWindow = 512
	// resendTick is how often a connection looks for frames to resend.
	resendTick = 100 * time.Millisecond
	// lingerTimeout is how long a connection stays open after channel_closed
	// for the client to close it first (it exits on receipt).
	lingerTimeout = time.Second
)

type phase int

const (
	phaseAdded phase = iota // registered, never connected
	phaseOpen               // connected at least once; the client may be away
	phaseEnded              // over: no dial, no Resume
)

var (
	errSessionEnded = errors.New("session has ended")
	errBadToken     = errors.New("token is not valid for this session")
)

// session is the per-session state: everything that must survive a
// reconnect (reference P20) lives here, not in the connection.
//
// Locking: mu guards the fields below it; sendMu serializes numbering and
// writing of output frames so they leave in sequence order. sendMu is taken
// before mu, never after. mu is never held while writing to a socket or
// calling Logf; events go through the dispatcher, never straight to OnEvent.
type session struct {
	srv  *Server
	spec Session

	sendMu       sync.Mutex
	firstOutSent bool // guarded by sendMu

	mu          sync.Mutex
	cond        *sync.Cond // broadcast on: ack, ready, attach, detach, end
	phase       phase
	ended       time.Time
	tokens      map[string]bool // single-use tokens that may open a connection
	conn        *wsConn         // nil while the client is away
	orphan      *time.Timer     // ends the session if the client stays away
	orphanGen   int             // tells a stale orphan timer from the current one
	terminating string          // why the process is being ended, if it is
	proc        *process
	exited      bool
	closedNote  *string   // EventClosed detail held back until the process exits
	started     time.Time // first connection, for HandshakeTimeToComplete
	completed   bool      // HandshakeComplete sent
	ready       bool      // first Size received
	pending     []byte    // output read before ready
	in          inbox
	out         outbox
	keys        keyQueue
}

func newSession(srv *Server, spec Session) *session {
	s := &session{
		srv:    srv,
		spec:   spec,
		tokens: map[string]bool{spec.Token: true},
	}
	s.cond = sync.NewCond(&s.mu)
	s.keys.init()
	return s
}

func (s *session) logf(format string, args ...any) {
	s.srv.logf("session "+s.spec.ID+": "+format, args...)
}

func (s *session) emit(kind EventKind, detail string) {
	s.srv.emit(s.spec.ID, kind, detail)
}

func (s *session) alive() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.phase != phaseEnded
}

func (s *session) endedAt() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ended, s.phase == phaseEnded
}

// attach makes c the session's connection if token is valid, consuming the
// token. The first connection sends the HandshakeRequest and starts the
// process; a reconnect resends every unacknowledged output frame, since the
// old socket may have lost them.
func (s *session) attach(c *wsConn, token string) error {
	s.mu.Lock()
	if s.phase == phaseEnded {
		s.mu.Unlock()
		return errSessionEnded
	}
	if !s.tokens[token] {
		s.mu.Unlock()
		return errBadToken
	}
	delete(s.tokens, token)
	old := s.conn
	s.conn = c
	if s.orphan != nil {
		s.orphan.Stop()
		s.orphan = nil
	}
	first := s.phase == phaseAdded
	s.phase = phaseOpen
	var resend []*sentFrame
	if first {
		s.started = time.Now()
	} else {
		resend = s.out.due(time.Now(), 0)
	}
	s.cond.Broadcast()
	s.mu.Unlock()

	if old != nil {
		old.abort()
	}
	if !first {
		// Shortcoming: a frame the client processed but whose ack died with
		// the old socket is resent, ignored as a duplicate and never acked
		// (the plugin does not re-ack duplicates). It then stays pending: the
		// end of the session waits the full ackWait before channel_closed.
		s.logf("client reconnected; resending %d frames", len(resend))
		s.emit(EventConnected, "resumed")
		for _, f := range resend {
			if c.write(f.raw) != nil {
				break
			}
		}
		return nil
	}

	s.logf("client connected")
	s.emit(EventConnected, "")
	s.open()
	return nil
}

// open sends the HandshakeRequest, then starts the process while the client
// answers, which keeps the fork off the time to the first prompt.
func (s *session) open() {
	payload, err := handshakeRequestPayload()
	if err == nil {
		err = s.send(message.HandshakeRequestPayloadType, payload, false)
	}
	if err != nil {
		s.closeChannel("handshake failed", "channel_closed: "+err.Error())
		return
	}

	p, err := startProcess(s.spec)
	if err != nil {
		s.logf("%v", err)
		s.closeChannel(err.Error(), "channel_closed: "+err.Error())
		return
	}
	s.mu.Lock()
	s.proc = p
	ended := s.phase == phaseEnded
	s.mu.Unlock()
	if ended { // dropped while starting: the run goroutine still reaps it
		p.killSession()
	}
	if !s.srv.startRun(func() { s.run(p) }) { // the server is closing
		s.end("server closed", true)
		p.killSession()
		p.wait()
		_ = p.master.Close()
	}
}

// serve is the read loop of connection c: it runs until the socket fails,
// which keeps pings answered and acks flowing at all times.
func (s *session) serve(c *wsConn) {
	s.srv.goConn(func() { s.resendLoop(c) })
	defer func() {
		close(c.done)
		s.detach(c)
	}()
	for {
		kind, raw, err := c.ws.ReadMessage()
		if err != nil {
			s.logf("read: %v", err)
			return
		}
		m, err := parseFrame(raw)
		if err != nil {
			s.logf("dropping frame (websocket type %d): %v", kind, err)
			continue
		}
		switch m.MessageType {
		case message.AcknowledgeMessage:
			s.handleAck(m)
		case message.InputStreamMessage:
			s.handleInput(c, m)
		default:
			s.logf("ignoring %s frame", m.MessageType)
		}
	}
}

func (s *session) handleAck(m *message.ClientMessage) {
	var content message.AcknowledgeContent
	if err := json.Unmarshal(m.Payload, &content); err != nil {
		s.logf("dropping ack: %v", err)
		return
	}
	s.mu.Lock()
	if s.out.ack(content.SequenceNumber) {
		s.cond.Broadcast()
	}
	s.mu.Unlock()
}

// handleInput acknowledges m at once, before any slow work (reference P6),
// on the connection it came from, then processes whatever is now in order.
func (s *session) handleInput(c *wsConn, m *message.ClientMessage) {
	s.mu.Lock()
	ack, ready := s.in.push(m)
	s.mu.Unlock()
	s.logf("in %d: payload type %d, %d bytes, %d in order now",
		m.SequenceNumber, m.PayloadType, len(m.Payload), len(ready))
	if ack {
		raw, err := buildAck(m)
		if err == nil {
			err = c.write(raw)
		}
		if err != nil {
			s.logf("ack input %d: %v", m.SequenceNumber, err)
		}
	} else {
		s.logf("input %d refused: too many early frames", m.SequenceNumber)
	}
	for _, f := range ready {
		s.process(f)
	}
}

// process acts on one in-order input frame.
func (s *session) process(m *message.ClientMessage) {
	switch message.PayloadType(m.PayloadType) {
	case message.Output:
		s.keys.push(m.Payload)
	case message.Size:
		s.resize(m.Payload)
	case message.HandshakeResponsePayloadType:
		s.completeHandshake(m.Payload)
	default:
		s.logf("ignoring input %d of payload type %d", m.SequenceNumber, m.PayloadType)
	}
}

func (s *session) completeHandshake(payload []byte) {
	var resp message.HandshakeResponsePayload
	if err := json.Unmarshal(payload, &resp); err != nil {
		s.logf("handshake response: %v", err)
	}
	for _, a := range resp.ProcessedClientActions {
		if a.ActionStatus != message.Success {
			s.logf("client failed handshake action %s: status %d %s",
				a.ActionType, a.ActionStatus, a.Error)
		}
	}
	s.mu.Lock()
	done := s.completed
	s.completed = true
	took := time.Since(s.started)
	s.mu.Unlock()
	if done {
		return
	}
	payload, err := handshakeCompletePayload(took)
	if err == nil {
		err = s.send(message.HandshakeCompletePayloadType, payload, false)
	}
	if err != nil {
		s.logf("handshake complete: %v", err)
	}
}

// resize applies a Size message; the first one also releases the output
// held back so far (reference §4.3: it proves the client's handler is ready).
func (s *session) resize(payload []byte) {
	var size message.SizeData
	if err := json.Unmarshal(payload, &size); err != nil {
		s.logf("size: %v", err)
		return
	}
	s.mu.Lock()
	p, ready := s.proc, s.ready
	s.mu.Unlock()
	if p != nil && size.Cols > 0 && size.Rows > 0 && size.Cols <= 0xffff && size.Rows <= 0xffff {
		if err := p.setSize(uint16(size.Cols), uint16(size.Rows)); err != nil {
			s.logf("resize to %dx%d: %v", size.Cols, size.Rows, err)
		}
	}

	if ready {
		// Only this goroutine sets ready. Once it is set the pump may hold
		// sendMu while it waits for acks, which this goroutine processes.
		return
	}

	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	s.mu.Lock()
	// Numbering the held output in the same critical section as setting
	// ready keeps finish from seeing "ready and nothing unacked" in between.
	s.ready = true
	held := len(s.pending)
	frames, err := s.queueLocked(message.Output, s.pending)
	s.pending = nil
	c := s.conn
	s.cond.Broadcast()
	s.mu.Unlock()

	s.logf("ready at %dx%d; releasing %d bytes", size.Cols, size.Rows, held)
	s.emit(EventReady, fmt.Sprintf("%dx%d", size.Cols, size.Rows))
	if err != nil {
		s.logf("send held output: %v", err)
	}
	s.transmit(c, message.Output, frames)
}

// output takes bytes read from the pty: held back before the first Size,
// sent at once after it.
func (s *session) output(data []byte) {
	s.mu.Lock()
	for !s.ready && len(s.pending) >= maxPendingOutput && s.phase != phaseEnded {
		s.cond.Wait()
	}
	if s.phase == phaseEnded {
		s.mu.Unlock()
		return
	}
	if !s.ready {
		s.pending = append(s.pending, data...)
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	if err := s.send(message.Output, data, true); err != nil {
		s.logf("send output: %v", err)
	}
}

// send numbers payload as output frames of type ptype, keeps them until
// acknowledged and writes them to the current connection, if any. With wait
// it blocks while sendWindow frames are unacknowledged; the read loop must
// not wait, since it is what processes the acks.
func (s *session) send(ptype message.PayloadType, payload []byte, wait bool) error {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	for len(payload) > 0 {
		chunk := payload[:min(len(payload), maxFramePayload)]
		payload = payload[len(chunk):]

		s.mu.Lock()
		for wait && s.out.pending() >= sendWindow && s.phase != phaseEnded {
			s.cond.Wait()
		}
		frames, err := s.queueLocked(ptype, chunk)
		c := s.conn
		s.mu.Unlock()
		if err != nil {
			return err
		}
		s.transmit(c, ptype, frames)
	}
	return nil
}

// queueLocked numbers payload as output frames and files them until they are
// acknowledged. The caller holds sendMu and mu.
func (s *session) queueLocked(ptype message.PayloadType, payload []byte) ([]*sentFrame, error) {
	if s.phase == phaseEnded {
		return nil, errSessionEnded
	}
	var frames []*sentFrame
	now := time.Now()
	for len(payload) > 0 {
		chunk := payload[:min(len(payload), maxFramePayload)]
		payload = payload[len(chunk):]
		f, err := s.out.add(now, func(seq int64) ([]byte, error) {
			return buildOutput(seq, ptype, chunk)
		})
		if err != nil {
			return frames, err
		}
		frames = append(frames, f)
	}
	return frames, nil
}

// transmit writes queued frames to c; with no connection they wait for the
// next one. The caller holds sendMu, so frames leave in sequence order.
func (s *session) transmit(c *wsConn, ptype message.PayloadType, frames []*sentFrame) {
	if c == nil {
		return
	}
	for _, f := range frames {
		if err := c.write(f.raw); err != nil {
			s.logf("write output %d: %v", f.seq, err)
			return // the read loop notices the broken socket
		}
		s.logf("out %d: payload type %d, %d bytes",
			f.seq, ptype, len(f.raw)-message.ClientMessage_PayloadOffset)
		if ptype == message.Output && !s.firstOutSent {
			s.firstOutSent = true
			s.emit(EventFirstOutput, "")
		}
	}
}

// resendLoop resends the frames the client has not acknowledged within
// resendAfter. It is required, not an optimization: the plugin drops output
// it cannot handle yet without acking it (reference P1).
func (s *session) resendLoop(c *wsConn) {
	t := time.NewTicker(resendTick)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case now := <-t.C:
			s.mu.Lock()
			var due []*sentFrame
			if s.conn == c {
				due = s.out.due(now, s.srv.resendAfter)
			}
			s.mu.Unlock()
			for _, f := range due {
				if c.write(f.raw) != nil {
					break
				}
				s.logf("out %d: resent", f.seq)
			}
		}
	}
}

// detach forgets c once its read loop has ended. Unless the session is over,
// the resume window starts: the process keeps running for a reconnect.
func (s *session) detach(c *wsConn) {
	s.mu.Lock()
	if s.conn != c {
		s.mu.Unlock()
		return
	}
	s.conn = nil
	if s.phase == phaseEnded {
		s.mu.Unlock()
		return
	}
	window := s.srv.resumeWindow
	s.orphanGen++
	gen := s.orphanGen
	s.orphan = time.AfterFunc(window, func() { s.expire(gen) })
	s.cond.Broadcast()
	s.mu.Unlock()

	s.logf("client disconnected; keeping the session for %v", window)
	s.emit(EventDisconnected, "")
}

// expire ends a session whose client did not come back; gen identifies the
// disconnection that armed the timer.
func (s *session) expire(gen int) {
	s.mu.Lock()
	away := s.conn == nil && gen == s.orphanGen
	s.mu.Unlock()
	if away {
		s.end("client did not come back", false)
	}
}

// run pumps the process's output until the pty closes, waits for the process
// and then ends the session cleanly.
func (s *session) run(p *process) {
	pumped := make(chan struct{})
	exited := make(chan struct{})
	s.srv.goRun(func() { s.feed(p) })
	s.srv.goRun(func() {
		status := p.wait()
		at := time.Now()
		s.mu.Lock()
		s.exited = true
		note := s.closedNote
		s.closedNote = nil
		s.mu.Unlock()
		s.logf("process exited: %s", status)
		s.srv.emitAt(at, s.spec.ID, EventShellExited, status)
		if note != nil {
			s.emit(EventClosed, *note)
		}
		close(exited)
		s.keys.close()
		// A background job may hold the terminal open after the shell is
		// gone; the pump then never sees EOF. Closing the master ends it.
		select {
		case <-pumped:
		case <-time.After(s.srv.drainGrace):
			_ = p.master.Close()
		}
	})

	buf := make([]byte, maxFramePayload)
	for {
		n, err := p.master.Read(buf)
		if n > 0 {
			s.output(append([]byte(nil), buf[:n]...))
		}
		if err != nil { // EIO once the last slave fd closes: the normal end
			break
		}
	}
	close(pumped)
	<-exited
	_ = p.master.Close()
	s.finish()
}

// feed writes keystrokes to the pty as they come, off the read loop, because
// a write blocks while the pty's input buffer is full.
func (s *session) feed(p *process) {
	for {
		data, ok := s.keys.pop()
		if !ok {
			return
		}
		if _, err := p.master.Write(data); err != nil {
			s.logf("write keystrokes: %v", err)
			return
		}
	}
}

// finish ends the session after its process: it waits until the client has
// acknowledged all output, then sends channel_closed, the agent's order
// (reference §5.1). The wait is at most ackWait once the client is connected
// and ready; output held back before the first Size (a one-shot command that
// ended during the handshake) waits for it, up to openTimeout; while the
// client is away the wait lasts until it comes back or the resume window
// ends.
func (s *session) finish() {
	stop := make(chan struct{})
	defer close(stop)
	s.srv.goRun(func() { // wakes the wait below to check its deadline
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				s.mu.Lock()
				s.cond.Broadcast()
				s.mu.Unlock()
			}
		}
	})

	s.mu.Lock()
	readyBy := time.Now().Add(openTimeout)
	deadline := time.Now().Add(s.srv.ackWait)
	for {
		now := time.Now()
		if s.phase == phaseEnded {
			s.mu.Unlock()
			return
		}
		if s.conn == nil && s.terminating != "" {
			s.mu.Unlock()
			s.end(s.terminating+" while the client was away", false)
			return
		}
		if s.conn == nil || (!s.ready && now.Before(readyBy)) {
			deadline = now.Add(s.srv.ackWait)
		} else if s.out.pending() == 0 || now.After(deadline) {
			break
		}
		s.cond.Wait()
	}
	unacked := s.out.pending()
	why := s.terminating
	s.mu.Unlock()

	if unacked > 0 {
		s.logf("%d output frames still unacknowledged; closing anyway", unacked)
	}
	detail := "channel_closed"
	if why != "" {
		detail += ": " + why
	}
	s.closeChannel("", detail)
}

// closeChannel ends the session with a channel_closed frame carrying output
// (empty for a normal end), if a client is connected.
func (s *session) closeChannel(output, detail string) {
	s.mu.Lock()
	if s.phase == phaseEnded {
		s.mu.Unlock()
		return
	}
	c := s.conn
	everConnected := s.phase == phaseOpen
	s.conn = nil
	s.markEndedLocked()
	s.mu.Unlock()

	if c != nil {
		raw, err := buildChannelClosed(s.spec.ID, output)
		if err == nil {
			err = c.write(raw)
		}
		if err != nil {
			s.logf("send channel_closed: %v", err)
		}
		// The client exits on receipt and its socket closes; closing ours at
		// once could reset the connection before the frame is read.
		time.AfterFunc(lingerTimeout, c.abort)
	}
	s.logf("ended: %s", detail)
	if everConnected {
		s.emit(EventClosed, detail)
	}
}

// end ends the session without channel_closed: the process (with its whole
// pty session if killAll) is killed and the socket aborted.
func (s *session) end(detail string, killAll bool) {
	s.mu.Lock()
	if s.phase == phaseEnded {
		s.mu.Unlock()
		return
	}
	emitNow := s.phase == phaseOpen
	if emitNow && s.proc != nil && !s.exited {
		// The process's waiter emits it, so that it follows EventShellExited.
		s.closedNote = &detail
		emitNow = false
	}
	c := s.conn
	s.conn = nil
	p := s.proc
	s.markEndedLocked()
	s.mu.Unlock()

	if p != nil {
		if killAll {
			p.killSession()
		} else {
			p.kill()
		}
	}
	if c != nil {
		c.abort()
	}
	s.logf("ended: %s", detail)
	if emitNow {
		s.emit(EventClosed, detail)
	}
}

func (s *session) markEndedLocked() {
	s.phase = phaseEnded
	s.ended = time.Now()
	s.tokens = nil
	if s.orphan != nil {
		s.orphan.Stop()
		s.orphan = nil
	}
	s.cond.Broadcast()
}

// terminate kills the process so that the session ends cleanly through
// finish; a session with no process ends at once.
func (s *session) terminate(why string) {
	s.mu.Lock()
	if s.phase == phaseEnded {
		s.mu.Unlock()
		return
	}
	if s.terminating == "" {
		s.terminating = why
	}
	p := s.proc
	exited := s.exited
	s.mu.Unlock()

	switch {
	case p == nil:
		s.closeChannel("", "channel_closed: "+why)
	case !exited:
		p.kill()
	}
	s.keys.close()
}

// shutdown is terminate for Close: it also kills the shell's background jobs,
// and ends at once a session whose client is away.
func (s *session) shutdown() {
	s.mu.Lock()
	p, away := s.proc, s.conn == nil
	s.mu.Unlock()
	if away {
		s.end("server closed", true)
		return
	}
	s.terminate("server closed")
	if p != nil {
		p.killSession()
	}
}

// resumeToken issues a single-use token for a reconnect, unless the session
// is over or being terminated.
func (s *session) resumeToken() (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.phase == phaseEnded || s.terminating != "" {
		return "", false
	}
	tok := newToken()
	s.tokens[tok] = true
	return tok, true
}

// keyQueue hands keystrokes from the read loop to feed without ever blocking
// the read loop.
type keyQueue struct {
	mu     sync.Mutex
	queue  [][]byte
	closed bool
	wake   chan struct{}
}

func (q *keyQueue) init() { q.wake = make(chan struct{}, 1) }

func (q *keyQueue) push(b []byte) {
	q.mu.Lock()
	if !q.closed {
		q.queue = append(q.queue, b)
	}
	q.mu.Unlock()
	q.signal()
}

// pop waits for the next chunk; false once the queue is closed.
func (q *keyQueue) pop() ([]byte, bool) {
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return nil, false
		}
		if len(q.queue) > 0 {
			b := q.queue[0]
			q.queue = q.queue[1:]
			q.mu.Unlock()
			return b, true
		}
		q.mu.Unlock()
		<-q.wake
	}
}

func (q *keyQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.queue = nil
	q.mu.Unlock()
	q.signal()
}

func (q *keyQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}
