package sandbox

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Wire constants of the AWS JSON 1.1 protocol as ECS and SSM speak it.
const (
	ecsTargetPrefix = "AmazonEC2ContainerServiceV20141113."
	ssmTargetPrefix = "AmazonSSM."
	jsonContentType = "application/x-amz-json-1.1"
)

// apiError is an AWS error answer. Code becomes the "__type" of a JSON error
// body (or the <Code> of an XML one); Status defaults to 400, the status
// real ECS uses for every client fault.
type apiError struct {
	Code    string
	Message string
	Status  int
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func (e *apiError) status() int {
	if e.Status == 0 {
		return http.StatusBadRequest
	}
	return e.Status
}

func newError(code, format string, args ...any) *apiError {
	return &apiError{Code: code, Message: fmt.Sprintf(format, args...)}
}

func invalidParameter(format string, args ...any) *apiError {
	return newError("InvalidParameterException", format, args...)
}

// Messages copied from real ECS answers (reference/ecs-api.md §1.5, §2.2).
const (
	msgClusterNotFound  = "Cluster not found."
	msgServiceNotFound  = "Service not found."
	msgTaskNotFound     = "The referenced task was not found."
	msgTasksEmpty       = "Tasks cannot be empty."
	msgInteractiveOnly  = "Interactive is the only mode supported currently."
	msgTargetNotConnect = "The execute command failed due to an internal error. Try again later."
	msgRateExceeded     = "Rate exceeded"
	// The apostrophe in "isn’t" is U+2019, as ECS sends it.
	msgExecNotRunning = "The execute command failed because execute command was not enabled " +
		"when the task was run or the execute command agent isn’t running. Wait and try again " +
		"or run a new task with execute command enabled and try again."
)

func clusterNotFound() *apiError {
	return newError("ClusterNotFoundException", msgClusterNotFound)
}

func serviceNotFound() *apiError {
	return newError("ServiceNotFoundException", msgServiceNotFound)
}

func throttled() *apiError {
	return newError("ThrottlingException", msgRateExceeded)
}

// epochTime is a timestamp on the wire: a JSON number of seconds since the
// epoch with millisecond precision, as real ECS sends it (the Go SDK rejects
// strings). Use it with the omitzero tag option.
type epochTime struct{ time.Time }

func epoch(t time.Time) epochTime { return epochTime{t} }

func (e epochTime) MarshalJSON() ([]byte, error) {
	return strconv.AppendFloat(nil, float64(e.UnixMilli())/1e3, 'f', 3, 64), nil
}

// decodeJSON reads a request body into v. An empty body counts as {}, as in
// AWS; a body that is not a JSON object is a SerializationException.
func decodeJSON(body []byte, v any) *apiError {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return newError("SerializationException", "%s", err.Error())
	}
	return nil
}

// writeJSON sends a JSON 1.1 answer.
func writeJSON(w http.ResponseWriter, reqID string, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"__type":"ServerException","message":"sandbox could not encode the answer"}`)
	}
	setRequestID(w, reqID)
	w.Header().Set("Content-Type", jsonContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeJSONError sends e as a JSON 1.1 error. msgKey is "message" for ECS
// and "Message" for SSM, matching each service's error shapes.
func writeJSONError(w http.ResponseWriter, reqID string, e *apiError, msgKey string) {
	writeJSON(w, reqID, e.status(), map[string]string{"__type": e.Code, msgKey: e.Message})
}

// setRequestID sets the request ID header with the exact spelling AWS uses;
// the SDK reads it case-insensitively and shows it in every error.
func setRequestID(w http.ResponseWriter, reqID string) {
	w.Header()["x-amzn-RequestId"] = []string{reqID}
}

// newRequestID returns a random UUID (version 4) string.
func newRequestID() string {
	b := randomBytes(16)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// randomHex returns n random hex digits.
func randomHex(n int) string {
	return hex.EncodeToString(randomBytes((n + 1) / 2))[:n]
}

// randomDigits returns n random decimal digits, the first not zero.
func randomDigits(n int) string {
	b := randomBytes(n)
	out := make([]byte, n)
	for i := range b {
		out[i] = '0' + b[i]%10
	}
	if out[0] == '0' {
		out[0] = '1'
	}
	return string(out)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return b
}
