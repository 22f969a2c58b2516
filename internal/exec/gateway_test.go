package exec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/session-manager-plugin/src/log"
	"github.com/aws/session-manager-plugin/src/message"
	"github.com/gorilla/websocket"
	"github.com/twinj/uuid"
)

// fakeGateway is a test-only stand-in for the message gateway and the SSM
// agent behind it (reference §0): the handshake, acks both ways, resends,
// output gated on the first Size, and channel_closed. What the "remote"
// does with input is up to each test.
type fakeGateway struct {
	t   *testing.T
	srv *httptest.Server

	token       string
	sessionType string               // default Standard_Stream
	noHandshake bool                 // never start the session: the plugin waits forever
	onReady     func(c *gatewayConn) // after the first Size, on its own goroutine
	onInput     func(c *gatewayConn, p []byte)

	ready chan struct{} // closed at the first Size
	ended chan struct{} // closed when the first connection ends

	endOnce sync.Once

	mu    sync.Mutex
	conns int
	input []byte // every keystroke payload, in order
	sizes []message.SizeData
}

var gatewayLog = log.Logger(false, "breakglass-test-gateway")

func newFakeGateway(t *testing.T) *fakeGateway {
	t.Helper()
	uuid.SwitchFormat(uuid.CleanHyphen)
	g := &fakeGateway{t: t, token: "tok-" + t.Name(), sessionType: "Standard_Stream",
		ready: make(chan struct{}), ended: make(chan struct{})}
	g.srv = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(g.srv.Close)
	return g
}

// sessionJSON is the ExecuteCommand session object pointing at g.
func (g *fakeGateway) sessionJSON(id string) []byte {
	url := "ws" + strings.TrimPrefix(g.srv.URL, "http") + "/v1/data-channel/" + id +
		"?role=publish_subscribe"
	b, _ := json.Marshal(map[string]string{"sessionId": id, "streamUrl": url, "tokenValue": g.token})
	return b
}

func (g *fakeGateway) receivedInput() []byte {
	g.mu.Lock()
	defer g.mu.Unlock()
	return bytes.Clone(g.input)
}

func (g *fakeGateway) receivedSizes() []message.SizeData {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]message.SizeData(nil), g.sizes...)
}

func (g *fakeGateway) connections() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.conns
}

// gatewayConn is one data channel.
type gatewayConn struct {
	g  *fakeGateway
	ws *websocket.Conn

	wmu sync.Mutex // gorilla allows one writer

	mu      sync.Mutex
	outSeq  int64
	unacked map[int64][]byte
	done    chan struct{}
}

func (g *fakeGateway) serve(w http.ResponseWriter, r *http.Request) {
	ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer ws.Close()
	defer g.endOnce.Do(func() { close(g.ended) })
	g.mu.Lock()
	g.conns++
	g.mu.Unlock()

	c := &gatewayConn{g: g, ws: ws, unacked: map[int64][]byte{}, done: make(chan struct{})}
	defer close(c.done)

	_, first, err := ws.ReadMessage()
	if err != nil {
		return
	}
	var open struct{ TokenValue string }
	if json.Unmarshal(first, &open) != nil || open.TokenValue != g.token {
		return
	}
	if g.noHandshake {
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	}
	go c.resend()

	action, _ := json.Marshal(message.SessionTypeRequest{SessionType: g.sessionType,
		Properties: map[string]any{}})
	c.send(message.HandshakeRequestPayloadType, mustJSON(message.HandshakeRequestPayload{
		AgentVersion: "3.3.0.0",
		RequestedClientActions: []message.RequestedClientAction{
			{ActionType: message.SessionType, ActionParameters: action}},
	}))

	expected := int64(0)
	early := map[int64]message.ClientMessage{}
	for {
		_, b, err := ws.ReadMessage()
		if err != nil {
			return // after channel_closed the client just drops the socket
		}
		var m message.ClientMessage
		if m.DeserializeClientMessage(gatewayLog, b) != nil || m.Validate() != nil {
			continue
		}
		switch m.MessageType {
		case message.AcknowledgeMessage:
			if ack, err := m.DeserializeDataStreamAcknowledgeContent(gatewayLog); err == nil {
				c.mu.Lock()
				delete(c.unacked, ack.SequenceNumber)
				c.mu.Unlock()
			}
		case message.InputStreamMessage:
			c.ack(m) // first, and for duplicates too (reference P6)
			if m.SequenceNumber < expected {
				continue
			}
			early[m.SequenceNumber] = m
			for {
				next, ok := early[expected]
				if !ok {
					break
				}
				delete(early, expected)
				expected++
				c.handle(next)
			}
		}
	}
}

func (c *gatewayConn) handle(m message.ClientMessage) {
	g := c.g
	switch message.PayloadType(m.PayloadType) {
	case message.HandshakeResponsePayloadType:
		c.send(message.HandshakeCompletePayloadType, mustJSON(message.HandshakeCompletePayload{}))
	case message.Size:
		var sz message.SizeData
		_ = json.Unmarshal(m.Payload, &sz)
		g.mu.Lock()
		first := len(g.sizes) == 0
		g.sizes = append(g.sizes, sz)
		g.mu.Unlock()
		if first {
			close(g.ready)
			if g.onReady != nil {
				go g.onReady(c)
			}
		}
	case message.Output:
		g.mu.Lock()
		g.input = append(g.input, m.Payload...)
		g.mu.Unlock()
		if g.onInput != nil {
			g.onInput(c, m.Payload)
		}
	}
}

// output sends remote output.
func (c *gatewayConn) output(s string) {
	c.send(message.Output, []byte(s))
}

// closeChannel ends the session the way the service does: once all output
// is acked, one channel_closed frame. It returns at once.
func (c *gatewayConn) closeChannel() {
	go func() {
		deadline := time.Now().Add(10 * time.Second)
		for {
			c.mu.Lock()
			n := len(c.unacked)
			c.mu.Unlock()
			if n == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		payload := mustJSON(message.ChannelClosed{MessageType: message.ChannelClosedMessage,
			SessionId: "s", SchemaVersion: 1, MessageId: uuid.NewV4().String()})
		c.write(c.frame(message.ChannelClosedMessage, 0, 0, payload))
	}()
}

func (c *gatewayConn) send(pt message.PayloadType, payload []byte) {
	c.mu.Lock()
	seq := c.outSeq
	c.outSeq++
	b := c.frame(message.OutputStreamMessage, seq, pt, payload)
	c.unacked[seq] = b
	c.mu.Unlock()
	c.write(b)
}

// resend repeats unacked output: the client drops, without an ack, output
// that arrives before its handler is ready (reference P1).
func (c *gatewayConn) resend() {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-tick.C:
		}
		c.mu.Lock()
		frames := make([][]byte, 0, len(c.unacked))
		for _, b := range c.unacked {
			frames = append(frames, b)
		}
		c.mu.Unlock()
		for _, b := range frames {
			c.write(b)
		}
	}
}

func (c *gatewayConn) ack(m message.ClientMessage) {
	content := message.AcknowledgeContent{
		MessageType: m.MessageType, MessageId: m.MessageId.String(),
		SequenceNumber: m.SequenceNumber, IsSequentialMessage: true,
	}
	b, err := message.SerializeClientMessageWithAcknowledgeContent(gatewayLog, content)
	if err == nil {
		c.write(b)
	}
}

func (c *gatewayConn) frame(typ string, seq int64, pt message.PayloadType, payload []byte) []byte {
	m := message.ClientMessage{
		MessageType: typ, SchemaVersion: 1, CreatedDate: uint64(time.Now().UnixMilli()),
		SequenceNumber: seq, Flags: 0, MessageId: uuid.NewV4(), PayloadType: uint32(pt),
		Payload: payload,
	}
	b, err := m.SerializeClientMessage(gatewayLog)
	if err != nil {
		panic(fmt.Sprintf("serialize %s frame: %v", typ, err))
	}
	return b
}

func (c *gatewayConn) write(b []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.WriteMessage(websocket.BinaryMessage, b)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// lineShell makes g behave like a tiny shell: a prompt, each input line
// echoed back, and "exit" ending the session.
func lineShell(g *fakeGateway) {
	var mu sync.Mutex
	var line []byte
	g.onReady = func(c *gatewayConn) { c.output("fake$ ") }
	g.onInput = func(c *gatewayConn, p []byte) {
		mu.Lock()
		defer mu.Unlock()
		for _, b := range p {
			switch b {
			case '\r', '\n':
				if string(line) == "exit" {
					c.output("exit\r\nbye\r\n")
					c.closeChannel()
				} else if len(line) > 0 {
					c.output("echo:" + string(line) + "\r\nfake$ ")
				}
				line = line[:0]
			case 0x03, 0x1a, 0x1c:
				line = line[:0]
			default:
				line = append(line, b)
			}
		}
	}
}
