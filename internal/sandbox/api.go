package sandbox

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// apiCall is one API request, classified.
type apiCall struct {
	service string // "ecs", "ssm", "sts"; "" for an unknown target
	op      string
	body    []byte
	form    url.Values     // STS only
	params  map[string]any // JSON body as a map, for the log and the marks
}

// handler answers one operation: a value to encode, or an error.
type handler func(s *Server, body []byte) (any, *apiError)

// ecsOps and ssmOps are the operations the sandbox serves.
var (
	ecsOps = map[string]handler{
		"DescribeClusters":    (*Server).describeClusters,
		"ListClusters":        (*Server).listClusters,
		"DescribeServices":    (*Server).describeServices,
		"ListServices":        (*Server).listServices,
		"UpdateService":       (*Server).updateService,
		"ListTasks":           (*Server).listTasks,
		"DescribeTasks":       (*Server).describeTasks,
		"StopTask":            (*Server).stopTask,
		"ExecuteCommand":      (*Server).executeCommand,
		"TagResource":         (*Server).tagResource,
		"UntagResource":       (*Server).untagResource,
		"ListTagsForResource": (*Server).listTagsForResource,
	}
	ssmOps = map[string]handler{
		"ResumeSession":    (*Server).resumeSession,
		"TerminateSession": (*Server).terminateSession,
	}
)

// maxBody bounds a request body; real requests are a few hundred bytes.
const maxBody = 1 << 20

// serveAPI answers one API call and records it on the timeline and the log.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	reqID := newRequestID()

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	call := classify(r, body)
	var (
		result any
		aerr   *apiError
	)
	switch {
	case err != nil:
		aerr = newError("SerializationException", "request body: %s", err.Error())
	case call.service == "":
		aerr = newError("UnknownOperationException",
			"the breakglass sandbox does not serve %q", call.op)
	case s.takeThrottle(call.op):
		aerr = throttled()
	default:
		result, aerr = s.dispatch(call)
	}

	status := http.StatusOK
	switch {
	case aerr != nil && call.service == "sts":
		status = aerr.status()
		writeSTSError(w, reqID, aerr)
	case aerr != nil && call.service == "ssm":
		status = aerr.status()
		writeJSONError(w, reqID, aerr, "Message")
	case aerr != nil:
		status = aerr.status()
		writeJSONError(w, reqID, aerr, "message")
	case call.service == "sts":
		writeXML(w, reqID, result)
	default:
		writeJSON(w, reqID, http.StatusOK, result)
	}
	s.recordCall(call, start, status, aerr)
}

// classify tells ECS and SSM calls (JSON 1.1, by X-Amz-Target) from STS
// calls (awsQuery, by the form's Action), whatever the path.
func classify(r *http.Request, body []byte) apiCall {
	call := apiCall{body: body}
	target := r.Header.Get("X-Amz-Target")
	switch {
	case strings.HasPrefix(target, ecsTargetPrefix):
		call.op = strings.TrimPrefix(target, ecsTargetPrefix)
		if ecsOps[call.op] != nil {
			call.service = "ecs"
		}
	case strings.HasPrefix(target, ssmTargetPrefix):
		call.op = strings.TrimPrefix(target, ssmTargetPrefix)
		if ssmOps[call.op] != nil {
			call.service = "ssm"
		}
	case target != "":
		call.op = target
	default:
		form, err := url.ParseQuery(string(body))
		call.op = form.Get("Action")
		if err == nil && call.op != "" {
			call.service, call.form = "sts", form
		}
	}
	if call.service == "ecs" || call.service == "ssm" {
		_ = json.Unmarshal(body, &call.params)
	}
	return call
}

func (s *Server) dispatch(call apiCall) (any, *apiError) {
	switch call.service {
	case "ecs":
		return ecsOps[call.op](s, call.body)
	case "ssm":
		return ssmOps[call.op](s, call.body)
	default:
		return s.sts(call.op, call.form)
	}
}

// takeThrottle reports whether a Throttle injection answers this call.
func (s *Server) takeThrottle(op string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.throttle[op] <= 0 {
		return false
	}
	s.throttle[op]--
	return true
}

// recordCall adds the MarkAPICall mark and the log line of a call.
func (s *Server) recordCall(call apiCall, start time.Time, status int, aerr *apiError) {
	op := call.op
	if op == "" {
		op = "(none)"
	}
	p := call.params
	s.mark(Mark{
		At:        start,
		Kind:      MarkAPICall,
		Cluster:   lastPart(paramString(p, "cluster")),
		Service:   lastPart(firstNonEmpty(paramString(p, "service"), paramString(p, "serviceName"))),
		TaskID:    lastPart(paramString(p, "task")),
		SessionID: paramString(p, "SessionId"),
		Detail:    op,
	})
	if s.cfg.Log == nil {
		return
	}

	var b strings.Builder
	svc := call.service
	if svc == "" {
		svc = "?"
	}
	fmt.Fprintf(&b, "%s %s", svc, op)
	for _, k := range logKeys {
		if v, ok := call.params[k]; ok {
			fmt.Fprintf(&b, " %s=%s", k, logValue(v))
		}
	}
	fmt.Fprintf(&b, " -> %d", status)
	if aerr != nil {
		fmt.Fprintf(&b, " %s", aerr.Code)
	}
	fmt.Fprintf(&b, " (%s)", time.Since(start).Round(10*time.Microsecond))
	s.logLine(b.String())
}

// logKeys are the request members the log shows, in this order. Token
// values are never among them.
var logKeys = []string{
	"cluster", "service", "serviceName", "services", "task", "tasks", "container",
	"command", "interactive", "desiredCount", "enableExecuteCommand", "desiredStatus",
	"reason", "resourceArn", "tagKeys", "include", "maxResults", "SessionId",
}

func logValue(v any) string {
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case []any:
		parts := make([]string, 0, len(v))
		for _, e := range v {
			parts = append(parts, logValue(e))
		}
		s = "[" + strings.Join(parts, ",") + "]"
	default:
		s = fmt.Sprint(v)
	}
	const maxLen = 120
	if len(s) > maxLen {
		s = s[:maxLen] + "..."
	}
	if strings.ContainsAny(s, " \t\n\"") {
		s = fmt.Sprintf("%q", s)
	}
	return s
}

func paramString(params map[string]any, key string) string {
	v, _ := params[key].(string)
	return v
}

// lastPart returns what follows the last "/" (the name in an ARN).
func lastPart(s string) string {
	return s[strings.LastIndex(s, "/")+1:]
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
