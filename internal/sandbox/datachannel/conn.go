package datachannel

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/session-manager-plugin/src/service"
	"github.com/gorilla/websocket"
)

const (
	// openTimeout bounds the wait for the client's first (text) frame.
	openTimeout = 10 * time.Second
	// writeTimeout bounds one frame write, so that a client that stopped
	// reading cannot stall the session forever.
	writeTimeout = 10 * time.Second
	// readLimit bounds one incoming frame; the plugin sends at most 1 KiB of
	// keystrokes per frame.
	readLimit = 1 << 20
)

// wsConn is one client WebSocket. gorilla allows a single concurrent writer
// (reference P10), so every write goes through write.
type wsConn struct {
	ws   *websocket.Conn
	wmu  sync.Mutex
	done chan struct{} // closed when the read loop has ended

	abortOnce sync.Once
}

func newConn(ws *websocket.Conn) *wsConn {
	ws.SetReadLimit(readLimit)
	return &wsConn{ws: ws, done: make(chan struct{})}
}

// write sends one binary frame.
func (c *wsConn) write(raw []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.ws.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil {
		return err
	}
	return c.ws.WriteMessage(websocket.BinaryMessage, raw)
}

// abort closes the TCP connection without a WebSocket close frame, the way
// the gateway's socket goes away when the agent dies. It is idempotent.
func (c *wsConn) abort() {
	c.abortOnce.Do(func() { _ = c.ws.Close() })
}

// refuse tells the client why with a close frame, then aborts.
func (c *wsConn) refuse(reason string) {
	deadline := time.Now().Add(time.Second)
	msg := websocket.FormatCloseMessage(websocket.ClosePolicyViolation, reason)
	_ = c.ws.WriteControl(websocket.CloseMessage, msg, deadline)
	c.abort()
}

// errNotOpenFrame is returned when the first frame is not the client's
// open-data-channel text frame.
var errNotOpenFrame = errors.New("first frame is not an open-data-channel text frame")

// readOpen reads the client's first frame, the JSON text frame of reference
// §2, and returns its TokenValue. Nothing is sent in reply.
func (c *wsConn) readOpen() (string, error) {
	if err := c.ws.SetReadDeadline(time.Now().Add(openTimeout)); err != nil {
		return "", fmt.Errorf("read open frame: %w", err)
	}
	kind, raw, err := c.ws.ReadMessage()
	if err != nil {
		return "", fmt.Errorf("read open frame: %w", err)
	}
	if err := c.ws.SetReadDeadline(time.Time{}); err != nil {
		return "", fmt.Errorf("read open frame: %w", err)
	}
	if kind != websocket.TextMessage {
		return "", fmt.Errorf("read open frame: %w", errNotOpenFrame)
	}
	var in service.OpenDataChannelInput
	if err := json.Unmarshal(raw, &in); err != nil {
		return "", fmt.Errorf("read open frame: %w: %w", errNotOpenFrame, err)
	}
	if in.TokenValue == nil || *in.TokenValue == "" {
		return "", fmt.Errorf("read open frame: no TokenValue: %w", errNotOpenFrame)
	}
	return *in.TokenValue, nil
}
