package server

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

func TestOpenAPIDocumentIsValid(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPI)
	if err != nil {
		t.Fatalf("loading openapi.yaml: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.yaml is not a valid OpenAPI 3 document: %v", err)
	}
}

// openAPIRouter routes requests to http://example.com (httptest's host)
// onto the documented operations.
func openAPIRouter(t *testing.T) routers.Router {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	doc.Servers = openapi3.Servers{{URL: "http://example.com"}}
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestResponsesMatchSchemas: the JSON answers of every route without a
// cluster (401, 400, 404, 503, readiness, health) validate against the
// documented response schemas, status included. The integration test does
// the same for the happy paths against a real cluster.
func TestResponsesMatchSchemas(t *testing.T) {
	router := openAPIRouter(t)
	s, _ := newTestServer(t, testConfig(), downCluster(t))
	h := s.Handler()
	cases := []struct{ method, path, token, body string }{
		{"GET", "/healthz", "", ""},
		{"GET", "/readyz", "", ""},
		{"GET", "/v1/indexes/docs", "", ""},
		{"GET", "/v1/indexes/docs", testToken, ""},
		{"PUT", "/v1/indexes/docs", testToken, `fields: {t: {type: text}}`},
		{"PUT", "/v1/indexes/docs", testToken, `fields: {t: {type: text, x: 1}}`},
		{"POST", "/v1/indexes/docs/documents", testToken, `[{"text": "a"}]`},
		{"POST", "/v1/indexes/docs/documents?refresh=no", testToken, `[]`},
		{"POST", "/v1/indexes/docs/search", testToken, `{"query": "a"}`},
		{"POST", "/v1/indexes/docs/search", testToken, `{"k": "a"}`},
		{"POST", "/v1/search", testToken, `{"query": "a"}`},
		{"POST", "/v1/embed", testToken, `{"texts": ["a"]}`},
		{"POST", "/v1/train", testToken, `{"name": "x", "source": {"file": "a.fvecs"}, "nlist": [2]}`},
	}
	for _, c := range cases {
		var body io.Reader
		if c.body != "" {
			body = strings.NewReader(c.body)
		}
		req := httptest.NewRequest(c.method, c.path, body)
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if err := ValidateAgainstOpenAPI(router, req, rec.Code, rec.Header(), rec.Body.Bytes()); err != nil {
			t.Errorf("%s %s -> %d: %v\n%s", c.method, c.path, rec.Code, err, rec.Body)
		}
	}
}

// ValidateAgainstOpenAPI checks one answer against the documented
// response (status, content type, JSON schema).
func ValidateAgainstOpenAPI(router routers.Router, req *http.Request, status int, header http.Header, body []byte) error {
	route, params, err := router.FindRoute(req)
	if err != nil {
		return err
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: header,
		Body: io.NopCloser(bytes.NewReader(body)), Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	return openapi3filter.ValidateResponse(context.Background(), out)
}
