package datachannel

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/aws/session-manager-plugin/src/config"
	"github.com/aws/session-manager-plugin/src/message"
	"github.com/twinj/uuid"
)

// clientParse decodes a server frame the way the plugin does.
func clientParse(t *testing.T, raw []byte) *message.ClientMessage {
	t.Helper()
	m := &message.ClientMessage{}
	if err := m.DeserializeClientMessage(silentLog{}, raw); err != nil {
		t.Fatalf("plugin cannot parse frame: %v", err)
	}
	if err := m.Validate(); err != nil {
		t.Fatalf("plugin rejects frame: %v", err)
	}
	return m
}

func TestOutputFramesAreWhatThePluginExpects(t *testing.T) {
	raw, err := buildOutput(0, message.Output, []byte("hi"))
	if err != nil {
		t.Fatal(err)
	}
	m := clientParse(t, raw)
	if m.MessageType != message.OutputStreamMessage || m.SequenceNumber != 0 ||
		m.PayloadType != uint32(message.Output) || string(m.Payload) != "hi" || m.Flags != flagsSyn {
		t.Errorf("frame 0 = %+v; want output_stream_data seq 0 SYN ptype 1 \"hi\"", m)
	}
	raw, _ = buildOutput(7, message.Output, []byte("x"))
	if m := clientParse(t, raw); m.Flags != flagsNone || m.SequenceNumber != 7 {
		t.Errorf("frame 7: flags %d seq %d; want 0, 7", m.Flags, m.SequenceNumber)
	}
}

func TestAckNamesTheFrameItAcknowledges(t *testing.T) {
	in := inputFrame(t, 42, message.Output, "k")
	raw, err := buildAck(in)
	if err != nil {
		t.Fatal(err)
	}
	m := clientParse(t, raw)
	ack, err := m.DeserializeDataStreamAcknowledgeContent(silentLog{})
	if err != nil {
		t.Fatal(err)
	}
	want := message.AcknowledgeContent{
		MessageType:         message.InputStreamMessage,
		MessageId:           uuid.Formatter(in.MessageId, uuid.CleanHyphen),
		SequenceNumber:      42,
		IsSequentialMessage: true,
	}
	if ack != want || m.Flags != flagsControl {
		t.Errorf("ack = %+v flags %d; want %+v flags 3", ack, m.Flags, want)
	}
}

func TestHandshakeAsksForTheShellAndNoEncryption(t *testing.T) {
	payload, err := handshakeRequestPayload()
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := buildOutput(0, message.HandshakeRequestPayloadType, payload)
	req, err := clientParse(t, raw).DeserializeHandshakeRequest(silentLog{})
	if err != nil {
		t.Fatal(err)
	}
	var types []message.ActionType
	for _, a := range req.RequestedClientActions {
		types = append(types, a.ActionType)
	}
	if !slices.Equal(types, []message.ActionType{message.SessionType}) {
		t.Fatalf("requested actions %v; want only SessionType (never KMSEncryption)", types)
	}
	var st message.SessionTypeRequest
	if err := json.Unmarshal(req.RequestedClientActions[0].ActionParameters, &st); err != nil {
		t.Fatal(err)
	}
	shellTypes := []string{config.ShellPluginName, config.InteractiveCommandsPluginName}
	if !slices.Contains(shellTypes, st.SessionType) {
		t.Errorf("SessionType %q; want one of %v", st.SessionType, shellTypes)
	}

	payload, _ = handshakeCompletePayload(1500 * time.Microsecond)
	raw, _ = buildOutput(1, message.HandshakeCompletePayloadType, payload)
	done, err := clientParse(t, raw).DeserializeHandshakeComplete(silentLog{})
	if err != nil {
		t.Fatalf("plugin cannot decode HandshakeComplete %s: %v", payload, err)
	}
	if done.HandshakeTimeToComplete != 1500*time.Microsecond || done.CustomerMessage != "" {
		t.Errorf("HandshakeComplete = %+v; want 1.5ms and no customer message", done)
	}
}

func TestChannelClosedCarriesTheSession(t *testing.T) {
	raw, err := buildChannelClosed("sess-1", "")
	if err != nil {
		t.Fatal(err)
	}
	cc, err := clientParse(t, raw).DeserializeChannelClosedMessage(silentLog{})
	if err != nil {
		t.Fatal(err)
	}
	if cc.SessionId != "sess-1" || cc.Output != "" || cc.MessageType != message.ChannelClosedMessage {
		t.Errorf("channel_closed = %+v; want session sess-1 with empty output", cc)
	}
}

func TestParseFrameRejectsBadFramesWithoutPanicking(t *testing.T) {
	good, err := clientFrameRaw(7, message.Output, "hello")
	if err != nil {
		t.Fatal(err)
	}
	corrupt := func(f func(b []byte)) []byte {
		b := slices.Clone(good)
		f(b)
		return b
	}
	tests := []struct {
		name string
		raw  []byte
	}{
		{"an empty frame", nil},
		{"a frame shorter than the header", good[:60]},
		{"a frame cut inside the payload length field", good[:118]},
		{"a header length pointing past the end", corrupt(func(b []byte) { b[3] = 0xff })},
		{"a header length shorter than the header", corrupt(func(b []byte) { b[3] = 8 })},
		{"a payload that does not match its digest", corrupt(func(b []byte) { b[len(b)-1] ^= 1 })},
		{"a frame with no creation date", corrupt(func(b []byte) {
			clear(b[message.ClientMessage_CreatedDateOffset : message.ClientMessage_CreatedDateOffset+8])
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if m, err := parseFrame(tt.raw); !errors.Is(err, errBadFrame) {
				t.Errorf("parseFrame = %+v, %v; want errBadFrame", m, err)
			}
		})
	}
	m, err := parseFrame(good)
	if err != nil || string(m.Payload) != "hello" || m.SequenceNumber != 7 {
		t.Errorf("parseFrame of a good frame = %+v, %v", m, err)
	}
}

func TestBuildFrameRefusesAnEmptyPayload(t *testing.T) {
	if _, err := buildOutput(3, message.Output, nil); !errors.Is(err, errEmptyPayload) {
		t.Errorf("buildOutput with no payload: %v; want errEmptyPayload", err)
	}
}

func TestCommandLine(t *testing.T) {
	tests := []struct {
		name    string
		command string
		want    []string
	}{
		{"no command starts sh", "", []string{"/bin/sh"}},
		{"a shell path starts that shell", "/bin/sh", []string{"/bin/sh"}},
		{"a bare shell name starts that shell", "bash", []string{"bash"}},
		{"a shell with arguments is a command", "sh -l", []string{"/bin/sh", "-c", "sh -l"}},
		{"anything else runs under sh -c", "seq 1 3", []string{"/bin/sh", "-c", "seq 1 3"}},
		{"a single non-shell word is a command", "ls", []string{"/bin/sh", "-c", "ls"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := commandLine(tt.command); !slices.Equal(got, tt.want) {
				t.Errorf("commandLine(%q) = %q; want %q", tt.command, got, tt.want)
			}
		})
	}
}

// clientFrameRaw serializes an input_stream_data frame with the plugin's
// code, as the plugin would send it.
func clientFrameRaw(seq int64, ptype message.PayloadType, payload string) ([]byte, error) {
	m := message.ClientMessage{
		MessageType:    message.InputStreamMessage,
		SchemaVersion:  1,
		CreatedDate:    uint64(time.Now().UnixMilli()),
		SequenceNumber: seq,
		MessageId:      uuid.NewV4(),
		PayloadType:    uint32(ptype),
		Payload:        []byte(payload),
	}
	return m.SerializeClientMessage(silentLog{})
}
