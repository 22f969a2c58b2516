package datachannel

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/session-manager-plugin/src/config"
	plog "github.com/aws/session-manager-plugin/src/log"
	"github.com/aws/session-manager-plugin/src/message"
	"github.com/twinj/uuid"
)

// agentVersion is what the HandshakeRequest claims to be. The plugin only
// compares it for port sessions; a current 3.x value keeps it on the modern
// code paths.
const agentVersion = "3.3.0.0"

// sessionType is the SessionType the HandshakeRequest asks for. The real
// agent puts the name of the session plugin it runs there, and ECS Exec runs
// the InteractiveCommands plugin (SSM document
// AmazonECS-ExecuteInteractiveCommand). The client maps it to the same shell
// handler as Standard_Stream, so mirroring ECS Exec costs nothing.
const sessionType = config.InteractiveCommandsPluginName

// Flag values of the frame header, as the agent sets them: SYN on the first
// stream frame, SYN|FIN on control frames such as acks. The client never
// reads them.
const (
	flagsNone    uint64 = 0
	flagsSyn     uint64 = 1
	flagsControl uint64 = 3
)

// errEmptyPayload is returned for frames with no payload, which the
// plugin's serializer cannot encode (reference P9).
var errEmptyPayload = errors.New("frame payload is empty")

// buildFrame serializes one ClientMessage with a fresh id and the current
// time. payload must not be empty.
func buildFrame(msgType string, seq int64, flags uint64, ptype message.PayloadType,
	payload []byte) ([]byte, error) {
	if len(payload) == 0 {
		return nil, fmt.Errorf("build %s frame %d: %w", msgType, seq, errEmptyPayload)
	}
	m := message.ClientMessage{
		MessageType:    msgType,
		SchemaVersion:  1,
		CreatedDate:    uint64(time.Now().UnixMilli()),
		SequenceNumber: seq,
		Flags:          flags,
		MessageId:      uuid.NewV4(),
		PayloadType:    uint32(ptype),
		Payload:        payload,
	}
	raw, err := m.SerializeClientMessage(silentLog{})
	if err != nil {
		return nil, fmt.Errorf("build %s frame %d: %w", msgType, seq, err)
	}
	return raw, nil
}

// buildOutput serializes a server→client output_stream_data frame.
func buildOutput(seq int64, ptype message.PayloadType, payload []byte) ([]byte, error) {
	flags := flagsNone
	if seq == 0 {
		flags = flagsSyn
	}
	return buildFrame(message.OutputStreamMessage, seq, flags, ptype, payload)
}

// buildAck serializes the acknowledge frame for an input_stream_data frame.
// It does not use the plugin's SerializeClientMessageWithAcknowledgeContent:
// that function switches the uuid package's global format on every call, a
// data race when several sessions ack at once. Ids are formatted with
// uuid.Formatter, which reads no global, for the same reason.
func buildAck(m *message.ClientMessage) ([]byte, error) {
	content := message.AcknowledgeContent{
		MessageType:         m.MessageType,
		MessageId:           uuid.Formatter(m.MessageId, uuid.CleanHyphen),
		SequenceNumber:      m.SequenceNumber,
		IsSequentialMessage: true,
	}
	payload, err := json.Marshal(content)
	if err != nil {
		return nil, fmt.Errorf("build ack for frame %d: %w", m.SequenceNumber, err)
	}
	return buildFrame(message.AcknowledgeMessage, 0, flagsControl, 0, payload)
}

// buildChannelClosed serializes the channel_closed frame that ends the
// client. An empty output makes the plugin print "Exiting session with
// sessionId: …"; otherwise it prints the output (reference §5.1).
func buildChannelClosed(sessionID, output string) ([]byte, error) {
	id := uuid.NewV4()
	payload, err := json.Marshal(message.ChannelClosed{
		MessageId:     uuid.Formatter(id, uuid.CleanHyphen),
		CreatedDate:   time.Now().UTC().Format(time.RFC3339),
		DestinationId: sessionID,
		SessionId:     sessionID,
		MessageType:   message.ChannelClosedMessage,
		SchemaVersion: 1,
		Output:        output,
	})
	if err != nil {
		return nil, fmt.Errorf("build channel_closed for session %s: %w", sessionID, err)
	}
	return buildFrame(message.ChannelClosedMessage, 0, flagsControl, 0, payload)
}

// handshakeRequestPayload is the JSON of output frame 0: one SessionType
// action and, deliberately, no KMSEncryption action, which would send the
// plugin to the real KMS (reference §4.4).
func handshakeRequestPayload() ([]byte, error) {
	params, err := json.Marshal(message.SessionTypeRequest{
		SessionType: sessionType,
		Properties:  map[string]any{},
	})
	if err != nil {
		return nil, err
	}
	return json.Marshal(message.HandshakeRequestPayload{
		AgentVersion: agentVersion,
		RequestedClientActions: []message.RequestedClientAction{
			{ActionType: message.SessionType, ActionParameters: params},
		},
	})
}

// handshakeCompletePayload is the JSON of output frame 1. The duration is
// encoded as integer nanoseconds, which is what the client's time.Duration
// field decodes; a string would hang the client (reference P4). The customer
// message stays empty because the client prints it verbatim.
func handshakeCompletePayload(took time.Duration) ([]byte, error) {
	return json.Marshal(message.HandshakeCompletePayload{HandshakeTimeToComplete: took})
}

// errBadFrame marks frames that are too short, inconsistent or fail
// validation.
var errBadFrame = errors.New("malformed frame")

// parseFrame decodes and validates one binary frame from the client. It
// never panics: the plugin's parser slices past the end of frames whose
// header length lies, so lengths are checked first.
func parseFrame(raw []byte) (m *message.ClientMessage, err error) {
	if len(raw) < message.ClientMessage_PayloadOffset {
		return nil, fmt.Errorf("parse frame of %d bytes: %w", len(raw), errBadFrame)
	}
	hl := int64(raw[0])<<24 | int64(raw[1])<<16 | int64(raw[2])<<8 | int64(raw[3])
	if hl < message.ClientMessage_PayloadLengthOffset ||
		hl+message.ClientMessage_PayloadLengthLength > int64(len(raw)) {
		return nil, fmt.Errorf("parse frame with header length %d of %d bytes: %w",
			hl, len(raw), errBadFrame)
	}
	defer func() {
		if r := recover(); r != nil {
			m, err = nil, fmt.Errorf("parse frame: %v: %w", r, errBadFrame)
		}
	}()
	m = &message.ClientMessage{}
	if err := m.DeserializeClientMessage(silentLog{}, raw); err != nil {
		return nil, fmt.Errorf("parse frame: %w: %w", err, errBadFrame)
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("validate %s frame %d: %w: %w",
			m.MessageType, m.SequenceNumber, err, errBadFrame)
	}
	if m.MessageId == nil {
		return nil, fmt.Errorf("parse frame: no message id: %w", errBadFrame)
	}
	return m, nil
}

// silentLog satisfies the plugin's log.T for the message package, which
// logs every parse failure itself. The server reports those failures through
// the returned errors instead, so the log lines are dropped.
type silentLog struct{}

var _ plog.T = silentLog{}

func (silentLog) Tracef(string, ...any)              {}
func (silentLog) Debugf(string, ...any)              {}
func (silentLog) Infof(string, ...any)               {}
func (silentLog) Warnf(f string, a ...any) error     { return fmt.Errorf(f, a...) }
func (silentLog) Errorf(f string, a ...any) error    { return fmt.Errorf(f, a...) }
func (silentLog) Criticalf(f string, a ...any) error { return fmt.Errorf(f, a...) }
func (silentLog) Trace(...any)                       {}
func (silentLog) Debug(...any)                       {}
func (silentLog) Info(...any)                        {}
func (silentLog) Warn(a ...any) error                { return errors.New(fmt.Sprint(a...)) }
func (silentLog) Error(a ...any) error               { return errors.New(fmt.Sprint(a...)) }
func (silentLog) Critical(a ...any) error            { return errors.New(fmt.Sprint(a...)) }
func (silentLog) Flush()                             {}
func (silentLog) Close()                             {}
func (l silentLog) WithContext(...string) plog.T     { return l }
