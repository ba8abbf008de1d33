package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"

	"github.com/knnbridge/knnbridge/bridge"
	"github.com/knnbridge/knnbridge/mapping"
)

// APIError is the body of every error answer:
//
//	{"error": {"code": "bad_request", "message": "...", "field": "k"}}
//
// Field names the request member at fault (a JSON path such as "k",
// "fusion.weights[1]", or a query parameter "?refresh"), when there is one.
type APIError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	// Details carries structured extras (validation problems, a plan that
	// needs a reindex).
	Details any `json:"details,omitempty"`
}

func (e *APIError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%d %s: %s (field %s)", e.Status, e.Code, e.Message, e.Field)
	}
	return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message)
}

func badRequest(field, format string, args ...any) *APIError {
	return &APIError{Status: http.StatusBadRequest, Code: "bad_request", Message: fmt.Sprintf(format, args...), Field: field}
}

func notFound(code, format string, args ...any) *APIError {
	return &APIError{Status: http.StatusNotFound, Code: code, Message: fmt.Sprintf(format, args...)}
}

func unavailable(code, format string, args ...any) *APIError {
	return &APIError{Status: http.StatusServiceUnavailable, Code: code, Message: fmt.Sprintf(format, args...)}
}

// StatusClientClosed is nginx's 499: the client went away before the
// answer; it is only logged and counted, nobody reads it.
const StatusClientClosed = 499

// toAPIError classifies any error from a handler into the answer the
// client sees. Unknown errors become a 500 with a generic message (the
// cause goes to the log with the request id, never a stack to the client).
func toAPIError(err error) *APIError {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae
	}
	var ve *mapping.ValidationError
	if errors.As(err, &ve) {
		field := "spec"
		if len(ve.Problems) > 0 {
			field = "spec." + ve.Problems[0].Path
		}
		return &APIError{Status: http.StatusBadRequest, Code: "invalid_spec", Message: err.Error(), Field: field, Details: ve.Problems}
	}
	var be *bridge.Error
	if errors.As(err, &be) {
		switch {
		case be.Status == http.StatusNotFound:
			code := "not_found"
			if strings.Contains(be.Type, "index_not_found") {
				code = "index_not_found"
			}
			return &APIError{Status: http.StatusNotFound, Code: code, Message: err.Error()}
		case be.Status == http.StatusTooManyRequests:
			return &APIError{Status: http.StatusTooManyRequests, Code: "cluster_overloaded", Message: err.Error()}
		case be.Status == http.StatusBadGateway || be.Status == http.StatusServiceUnavailable || be.Status == http.StatusGatewayTimeout:
			return unavailable("cluster_unavailable", "%s", err.Error())
		case be.Status == http.StatusUnauthorized || be.Status == http.StatusForbidden:
			// The sidecar's own OpenSearch credentials are wrong: not the
			// caller's fault, and not something the caller can fix.
			return &APIError{Status: http.StatusBadGateway, Code: "cluster_auth", Message: err.Error()}
		case be.Status/100 == 4:
			return &APIError{Status: http.StatusBadRequest, Code: "rejected_by_cluster", Message: err.Error()}
		default:
			return &APIError{Status: http.StatusBadGateway, Code: "cluster_error", Message: err.Error()}
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &APIError{Status: http.StatusGatewayTimeout, Code: "timeout", Message: err.Error()}
	}
	if errors.Is(err, context.Canceled) {
		return &APIError{Status: StatusClientClosed, Code: "cancelled", Message: err.Error()}
	}
	if isNetworkError(err) {
		return unavailable("cluster_unavailable", "%s", err.Error())
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &APIError{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large", Message: fmt.Sprintf("request body exceeds %d bytes (KNNBRIDGE_MAX_BODY_BYTES)", mbe.Limit)}
	}
	return &APIError{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error; the sidecar log has the cause under this request id"}
}

// isNetworkError reports a failure to reach OpenSearch at all (refused,
// reset, DNS, timeout on connect): the cluster is down or unreachable.
func isNetworkError(err error) bool {
	var ne net.Error
	var ue *url.Error
	var oe *net.OpError
	return errors.As(err, &oe) || errors.As(err, &ue) || errors.As(err, &ne) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET)
}

// writeJSON writes v with the status code.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the client may be gone; nothing to do about it
}

func writeError(w http.ResponseWriter, e *APIError) {
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="knnbridge"`)
	}
	writeJSON(w, e.Status, map[string]*APIError{"error": e})
}
