package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// embedModelDir finds all-MiniLM-L6-v2 like native/embed's tests do.
func embedModelDir(t *testing.T) string {
	dirs := []string{os.Getenv("KNNBRIDGE_EMBED_MODEL_DIR")}
	cache := os.Getenv("KNNBRIDGE_CACHE_DIR")
	if cache == "" {
		cache = filepath.Join("..", "..", ".cache")
	}
	dirs = append(dirs, filepath.Join(cache, "models", "all-MiniLM-L6-v2"))
	for _, d := range dirs {
		if d == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "config.json")); err == nil {
			return d
		}
	}
	msg := "all-MiniLM-L6-v2 not found; run `make model` or set KNNBRIDGE_EMBED_MODEL_DIR"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func runEmbedCmd(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	cmd := newEmbedCmd()
	var out, errb bytes.Buffer
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), errb.String(), err
}

func TestEmbedCmdLinesToJSONLAndNpy(t *testing.T) {
	dir := embedModelDir(t)
	t.Setenv("KNNBRIDGE_EMBED_BACKEND", "local")
	in := "hello world\nA man is eating food.\n\nlast line without newline"
	out, _, err := runEmbedCmd(t, in, "--model-dir", dir, "--chunk", "3")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d output lines for 4 input lines", len(lines))
	}
	var vecs [][]float32
	for i, l := range lines {
		var rec struct {
			Line      int       `json:"line"`
			Embedding []float32 `json:"embedding"`
		}
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Line != i+1 || len(rec.Embedding) != 384 {
			t.Fatalf("line %d: %d, dim %d", i+1, rec.Line, len(rec.Embedding))
		}
		vecs = append(vecs, rec.Embedding)
	}

	npyPath := filepath.Join(t.TempDir(), "v.npy")
	if _, _, err := runEmbedCmd(t, in, "--model-dir", dir, "--out", npyPath, "--chunk", "3"); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(npyPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte("\x93NUMPY\x01\x00")) || !strings.Contains(string(data[:128]), "'shape': (4, 384)") {
		t.Fatalf("npy header %q", data[:128])
	}
	body := data[128:]
	if len(body) != 4*384*4 {
		t.Fatalf("npy body %d bytes", len(body))
	}
	for i := range vecs {
		for j := range vecs[i] {
			got := math.Float32frombits(binary.LittleEndian.Uint32(body[4*(i*384+j):]))
			if got != vecs[i][j] { // JSONL floats round-trip exactly
				t.Fatalf("row %d col %d: npy %v, jsonl %v", i, j, got, vecs[i][j])
			}
		}
	}
}

func TestEmbedCmdJSONLInputAndErrors(t *testing.T) {
	dir := embedModelDir(t)
	t.Setenv("KNNBRIDGE_EMBED_BACKEND", "local")
	out, _, err := runEmbedCmd(t, "{\"id\":\"a\",\"body\":\"x\"}\n\n{\"id\":2,\"body\":\"y\"}\n", "--model-dir", dir, "--in-format", "jsonl", "--field", "body")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, `{"id":"a","embedding":[`) || !strings.Contains(out, "\n{\"id\":2,") {
		t.Fatalf("ids not carried: %.80q", out)
	}
	for in, want := range map[string]string{
		"{\"text\":\"ok\"}\nnot json\n":    "input line 2: not a JSON object",
		"{\"text\":\"ok\"}\n{\"tex\":1}\n": "input line 2: field \"text\" is missing",
		"{\"text\":5}\n":                   "input line 1: field \"text\" is not a string",
	} {
		if _, _, err := runEmbedCmd(t, in, "--model-dir", dir, "--in-format", "jsonl"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", in, err, want)
		}
	}
	if _, _, err := runEmbedCmd(t, "x", "--model-dir", dir, "--out-format", "csv"); err == nil || !strings.Contains(err.Error(), "--out-format") {
		t.Errorf("bad out format: %v", err)
	}
}
