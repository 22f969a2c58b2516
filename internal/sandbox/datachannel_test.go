package sandbox

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/gorilla/websocket"
)

// dialSession opens the data channel of an ExecuteCommand answer the way the
// plugin does: a WebSocket to streamUrl, then the open frame with the token.
func dialSession(t *testing.T, streamURL, token string) *websocket.Conn {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(streamURL, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", streamURL, err)
	}
	t.Cleanup(func() { ws.Close() })
	open, _ := json.Marshal(map[string]string{
		"MessageSchemaVersion": "1.0",
		"RequestId":            newRequestID(),
		"TokenValue":           token,
		"ClientId":             newRequestID(),
		"ClientVersion":        "1.3.0.0",
	})
	if err := ws.WriteMessage(websocket.TextMessage, open); err != nil {
		t.Fatalf("send open frame: %v", err)
	}
	return ws
}

// messageType returns the MessageType of a binary ClientMessage: 32 bytes,
// space padded, after the 4-byte header length (reference §3.1).
func messageType(frame []byte) string {
	if len(frame) < 36 {
		return ""
	}
	return strings.TrimRight(string(frame[4:36]), " \x00")
}

func TestExecuteCommandSessionsOpenOnTheDataChannel(t *testing.T) {
	s := start(t, fastConfig())
	c := sdk(t, s)

	id, _, res := execShell(t, s, c)
	sid := aws.ToString(res.Session.SessionId)

	// A wrong token is refused.
	bad := dialSession(t, aws.ToString(res.Session.StreamUrl), "wrong")
	bad.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := bad.ReadMessage(); err == nil {
		t.Errorf("the data channel answered a dial with a wrong token")
	}

	// The right token gets the handshake request: output seq 0.
	ws := dialSession(t, aws.ToString(res.Session.StreamUrl), aws.ToString(res.Session.TokenValue))
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	kind, frame, err := ws.ReadMessage()
	if err != nil || kind != websocket.BinaryMessage || messageType(frame) != "output_stream_data" {
		t.Fatalf("first frame = %d %q, %v; want a binary output_stream_data", kind,
			messageType(frame), err)
	}
	connected := waitMark(t, s, Mark{Kind: MarkSession, SessionID: sid, Detail: "connected"})
	if connected.TaskID != id || connected.Service != efsUtil || connected.Cluster != demoCluster {
		t.Errorf("connected mark = %+v, want task %s of %s", connected, id, efsUtil)
	}

	// When the task dies, the socket drops without channel_closed.
	if err := s.StopTaskNow(demoCluster, id, ""); err != nil {
		t.Fatal(err)
	}
	for {
		_, frame, err := ws.ReadMessage()
		if err != nil {
			break
		}
		if messageType(frame) == "channel_closed" {
			t.Fatalf("a dying task sent channel_closed")
		}
	}
	waitMark(t, s, Mark{Kind: MarkSession, SessionID: sid, Detail: "closed"})
}
