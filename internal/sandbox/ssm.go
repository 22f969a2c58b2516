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

// sessionID decodes the request both session operations take and returns
// its SessionId, which SSM requires.
func sessionID(body []byte) (string, *apiError) {
	var in sessionInput
	if err := decodeJSON(body, &in); err != nil {
		return "", err
	}
	if in.SessionID == "" {
		return "", newError("ValidationException", "SessionId can not be blank.")
	}
	return in.SessionID, nil
}

// resumeSession gives a dropped client a new token for the same stream. A
// session that ended (terminated, or its task stopped) is answered without
// a token, which makes the plugin report the session timed out and exit; an
// unknown session ID is a DoesNotExistException.
func (s *Server) resumeSession(body []byte) (any, *apiError) {
	id, err := sessionID(body)
	if err != nil {
		return nil, err
	}

	s.mu.Lock()
	sess, ok := s.sessions[id]
	ended := ok && (sess.ended || sess.task.desiredStatus != statusRunning)
	s.mu.Unlock()
	if !ok {
		return nil, doesNotExist(id)
	}
	out := resumeSessionOutput{SessionID: id}
	if ended {
		return out, nil
	}
	token, ok := s.dc.Resume(id)
	if ok {
		out.StreamURL, out.TokenValue = sess.streamURL, token
	}
	return out, nil
}

// terminateSession ends a session for good; terminating an ended session
// succeeds again, as in SSM.
func (s *Server) terminateSession(body []byte) (any, *apiError) {
	id, err := sessionID(body)
	if err != nil {
		return nil, err
	}

	s.mu.Lock()
	sess, ok := s.sessions[id]
	var done <-chan struct{}
	if ok && !sess.ended {
		sess.ended = true
		done = s.queueDC(func() { s.dc.Terminate(id) })
	}
	s.mu.Unlock()
	if !ok {
		return nil, doesNotExist(id)
	}
	if done != nil {
		<-done
	}
	return sessionInput{SessionID: id}, nil
}
