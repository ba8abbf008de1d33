package server

import (
	_ "embed"
	"net/http"
)

// OpenAPI is the API description (OpenAPI 3.0), served at GET
// /openapi.yaml and checked against the server by the tests.
//
//go:embed openapi.yaml
var OpenAPI []byte

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) error {
	w.Header().Set("Content-Type", "application/yaml")
	_, err := w.Write(OpenAPI)
	return err
}
