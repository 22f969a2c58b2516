package sandbox

// The SSM session API the plugin calls (reference/ssm-data-channel.md §1.8).

type sessionInput struct {
	SessionID string `json:"SessionId"`
}

type resumeSessionOutput struct {
	SessionID  string `json:"SessionId"`
	StreamURL  string `json:"StreamUrl,omitempty"`
	TokenValue string `json:"TokenValue,omitempty"`
}

func doesNotExist(id string) *apiError {
	return &apiError{Code: "DoesNotExistException", Message: "Session " + id + " does not exist."}
}

// resumeSession gives a dropped client a new token for the same stream. A
// session that ended (terminated, or its task stopped) is answered without
// a token, which makes the plugin report the session timed out and exit; an
// unknown session ID is a DoesNotExistException.
func (s *Server) resumeSession(body []byte) (any, *apiError) {
	var in sessionInput
	if err := decodeJSON(body, &in); err != nil {
		return nil, err
	}
	if in.SessionID == "" {
		return nil, newError("ValidationException", "SessionId can not be blank.")
	}

	s.mu.Lock()
	sess, ok := s.sessions[in.SessionID]
	ended := ok && (sess.ended || sess.task.desiredStatus != statusRunning)
	s.mu.Unlock()
	if !ok {
		return nil, doesNotExist(in.SessionID)
	}
	out := resumeSessionOutput{SessionID: in.SessionID}
	if ended {
		return out, nil
	}
	token, ok := s.dc.Resume(in.SessionID)
	if ok {
		out.StreamURL, out.TokenValue = sess.streamURL, token
	}
	return out, nil
}

// terminateSession ends a session for good; terminating an ended session
// succeeds again, as in SSM.
func (s *Server) terminateSession(body []byte) (any, *apiError) {
	var in sessionInput
	if err := decodeJSON(body, &in); err != nil {
		return nil, err
	}
	if in.SessionID == "" {
		return nil, newError("ValidationException", "SessionId can not be blank.")
	}

	s.mu.Lock()
	sess, ok := s.sessions[in.SessionID]
	var done <-chan struct{}
	if ok && !sess.ended {
		sess.ended = true
		done = s.queueDC(func() { s.dc.Terminate(in.SessionID) })
	}
	s.mu.Unlock()
	if !ok {
		return nil, doesNotExist(in.SessionID)
	}
	if done != nil {
		<-done
	}
	return sessionInput{SessionID: in.SessionID}, nil
}
