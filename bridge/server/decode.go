package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// readBody reads the whole (size-limited) body.
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, badRequest("", "reading request body: %v", err)
	}
	return b, nil
}

var unknownFieldRe = regexp.MustCompile(`unknown field "([^"]+)"`)

// decodeJSON decodes a JSON object strictly (unknown members are errors,
// so a typo never silently drops an option) and turns every decoding error
// into a 400 that names the field or the byte offset.
func decodeJSON(r *http.Request, v any) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	return decodeBytes(b, v)
}

func decodeBytes(b []byte, v any) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return badRequest("body", "empty request body: a JSON object is required")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return badRequest("body", "trailing data after the JSON object at offset %d", dec.InputOffset())
	}
	return nil
}

func jsonError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return badRequest("body", "malformed JSON at byte offset %d: %v", se.Offset, se)
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "body"
		}
		return badRequest(field, "field %q: expected %s, got JSON %s (offset %d)", field, te.Type, te.Value, te.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("body", "truncated JSON body")
	}
	if m := unknownFieldRe.FindStringSubmatch(err.Error()); m != nil {
		return badRequest(m[1], "unknown field %q", m[1])
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return err
	}
	return badRequest("body", "invalid JSON: %v", err)
}

// queryBool reads an optional boolean query parameter.
func queryBool(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, badRequest("?"+name, "query parameter %s=%q: want true or false", name, v)
	}
	return b, nil
}

// validIndexName applies OpenSearch's index name rules
// (MetadataCreateIndexService.validateIndexOrAliasName): lowercase, no
// \ / * ? " < > | space , #, not starting with - _ +, not . or .., at most
// 255 bytes. Checking here gives a 400 naming the field instead of a
// cluster error.
func validIndexName(field, name string) error {
	switch {
	case name == "":
		return badRequest(field, "index name is empty")
	case len(name) > 255:
		return badRequest(field, "index name is %d bytes; OpenSearch allows 255", len(name))
	case name == "." || name == "..":
		return badRequest(field, "index name %q is not allowed", name)
	case strings.ContainsAny(name[:1], "-_+"):
		return badRequest(field, "index name %q must not start with -, _ or +", name)
	case strings.ToLower(name) != name:
		return badRequest(field, "index name %q must be lowercase", name)
	case strings.ContainsAny(name, "\\/*?\"<>| ,#:"):
		return badRequest(field, "index name %q contains a character OpenSearch forbids (\\ / * ? \" < > | space , # :)", name)
	}
	return nil
}

func fieldf(format string, args ...any) string { return fmt.Sprintf(format, args...) }
