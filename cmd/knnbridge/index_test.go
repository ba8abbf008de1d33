package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func indexRunCmd(t *testing.T, format string, args ...string) (string, error) {
	t.Helper()
	old := outputFormat
	outputFormat = format
	t.Cleanup(func() { outputFormat = old })
	cmd := newIndexCmd()
	cmd.SilenceErrors, cmd.SilenceUsage = true, true // as under rootCmd
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func indexExitCodeOf(err error) int {
	var ec interface{ ExitCode() int }
	if err == nil {
		return 0
	}
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	return -1
}

func TestIndexValidateExitCodes(t *testing.T) {
	out, err := indexRunCmd(t, "table", "validate", "../../mapping/testdata/docs.yaml")
	if indexExitCodeOf(err) != 0 || !strings.Contains(out, "valid for OpenSearch 2.19.0") {
		t.Fatalf("docs.yaml: exit %d, %v\n%s", indexExitCodeOf(err), err, out)
	}
	out, err = indexRunCmd(t, "table", "validate", "../../mapping/testdata/invalid.yaml")
	if indexExitCodeOf(err) != indexExitInvalid || !strings.Contains(out, "fields.a.method.parameters.m") || !strings.Contains(out, "lucene-hnsw-m-max") {
		t.Fatalf("invalid.yaml: exit %d, %v\n%s", indexExitCodeOf(err), err, out)
	}
	if _, err := indexRunCmd(t, "table", "validate", "no-such-file.yaml"); indexExitCodeOf(err) != indexExitInvalid {
		t.Fatalf("missing file: exit %d, %v", indexExitCodeOf(err), err)
	}
	// nmslib is refused for new indexes from 3.0.
	out, err = indexRunCmd(t, "json", "validate", "--version", "3.0.0", "../../mapping/testdata/invalid.yaml")
	var res struct {
		Valid    bool `json:"valid"`
		Problems []struct {
			Rule string `json:"rule"`
		} `json:"problems"`
	}
	if indexExitCodeOf(err) != indexExitInvalid || json.Unmarshal([]byte(out), &res) != nil || res.Valid {
		t.Fatalf("json: exit %d %v\n%s", indexExitCodeOf(err), err, out)
	}
	found := false
	for _, p := range res.Problems {
		found = found || p.Rule == "nmslib-removed"
	}
	if !found {
		t.Fatalf("want nmslib-removed on 3.0, got %s", out)
	}
}

func TestIndexValidateRender(t *testing.T) {
	out, err := indexRunCmd(t, "json", "validate", "--render", "../../mapping/testdata/defaults.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Valid bool `json:"valid"`
		Body  struct {
			Mappings struct {
				Properties map[string]struct {
					Method struct {
						Engine string `json:"engine"`
					} `json:"method"`
				} `json:"properties"`
			} `json:"mappings"`
		} `json:"create_body"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !res.Valid || res.Body.Mappings.Properties["v"].Method.Engine != "faiss" {
		t.Fatalf("want the 2.19 default engine written out, got %s", out)
	}
}
