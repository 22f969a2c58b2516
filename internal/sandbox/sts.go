package sandbox

import (
	"encoding/xml"
	"net/http"
	"net/url"
	"strconv"
)

// STS speaks awsQuery: a form-encoded POST in, XML out.

const stsNamespace = "https://sts.amazonaws.com/doc/2011-06-15/"

// sandboxUserID is the unique ID of the sandbox's IAM user, shaped like a
// real one (AIDA + 17 characters).
const sandboxUserID = "AIDASANDBOXUSER000001"

type stsIdentityResponse struct {
	XMLName  xml.Name `xml:"GetCallerIdentityResponse"`
	Xmlns    string   `xml:"xmlns,attr"`
	Arn      string   `xml:"GetCallerIdentityResult>Arn"`
	UserID   string   `xml:"GetCallerIdentityResult>UserId"`
	Account  string   `xml:"GetCallerIdentityResult>Account"`
	Metadata struct {
		RequestID string `xml:"RequestId"`
	} `xml:"ResponseMetadata"`
}

type stsErrorResponse struct {
	XMLName xml.Name `xml:"ErrorResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Error   struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	} `xml:"Error"`
	RequestID string `xml:"RequestId"`
}

// sts answers an STS action. Only GetCallerIdentity exists; the caller is
// always the IAM user "sandbox" of the configured account.
func (s *Server) sts(action string, _ url.Values) (any, *apiError) {
	if action != "GetCallerIdentity" {
		return nil, newError("InvalidAction",
			"Could not find operation %s for version 2011-06-15", action)
	}
	out := &stsIdentityResponse{
		Xmlns:   stsNamespace,
		Arn:     "arn:aws:iam::" + s.cfg.AccountID + ":user/sandbox",
		UserID:  sandboxUserID,
		Account: s.cfg.AccountID,
	}
	return out, nil
}

// writeXML sends an STS answer, filling in the request ID.
func writeXML(w http.ResponseWriter, reqID string, v any) {
	if r, ok := v.(*stsIdentityResponse); ok {
		r.Metadata.RequestID = reqID
	}
	writeXMLStatus(w, reqID, http.StatusOK, v)
}

// writeSTSError sends e in awsQuery's error shape.
func writeSTSError(w http.ResponseWriter, reqID string, e *apiError) {
	out := stsErrorResponse{Xmlns: stsNamespace, RequestID: reqID}
	out.Error.Type = "Sender"
	if e.status() >= 500 {
		out.Error.Type = "Receiver"
	}
	out.Error.Code, out.Error.Message = e.Code, e.Message
	writeXMLStatus(w, reqID, e.status(), out)
}

func writeXMLStatus(w http.ResponseWriter, reqID string, status int, v any) {
	body, err := xml.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, nil
	}
	setRequestID(w, reqID)
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
