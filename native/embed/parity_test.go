package embed

import (
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

type parityCase struct {
	Kind     string  `json:"kind"`
	InputB64 string  `json:"input_b64"`
	IDs      []int32 `json:"ids"`
	EmbB64   string  `json:"embedding_f32_b64"`
}

type parityFixture struct {
	Model        string            `json:"model"`
	MaxSeqLength int               `json:"max_seq_length"`
	Dimension    int               `json:"dimension"`
	Versions     map[string]string `json:"versions"`
	Cases        []parityCase      `json:"cases"`
}

func loadFixture(t testing.TB) *parityFixture {
	t.Helper()
	f, err := os.Open("testdata/parity.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var fx parityFixture
	if err := json.NewDecoder(zr).Decode(&fx); err != nil {
		t.Fatal(err)
	}
	return &fx
}

func (c *parityCase) input(t testing.TB) string {
	b, err := base64.StdEncoding.DecodeString(c.InputB64)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (c *parityCase) embedding(t testing.TB) []float32 {
	b, err := base64.StdEncoding.DecodeString(c.EmbB64)
	if err != nil {
		t.Fatal(err)
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

// modelDir finds all-MiniLM-L6-v2: KNNBRIDGE_EMBED_MODEL_DIR, else the
// cache that scripts/embed-fetch-model.sh (make model) fills. Missing
// model: fail under CI=true (CI must run parity), skip elsewhere.
func modelDir(t testing.TB) string {
	t.Helper()
	cands := []string{}
	if d := os.Getenv("KNNBRIDGE_EMBED_MODEL_DIR"); d != "" {
		cands = append(cands, d)
	}
	cache := os.Getenv("KNNBRIDGE_CACHE_DIR")
	if cache == "" {
		cache = filepath.Join("..", "..", ".cache")
	}
	cands = append(cands, filepath.Join(cache, "models", "all-MiniLM-L6-v2"))
	for _, d := range cands {
		if _, err := os.Stat(filepath.Join(d, "config.json")); err == nil {
			return d
		}
	}
	msg := "all-MiniLM-L6-v2 not found in " + join(cands) + "; run `make model` (scripts/embed-fetch-model.sh) or set KNNBRIDGE_EMBED_MODEL_DIR"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ", "
		}
		out += x
	}
	return out
}

var (
	sharedOnce  sync.Once
	sharedLocal *Local
	sharedErr   error
)

func sharedModel(t testing.TB) *Local {
	dir := modelDir(t)
	sharedOnce.Do(func() { sharedLocal, sharedErr = NewLocal(dir, 32, runtime.GOMAXPROCS(0)) })
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return sharedLocal
}

func TestParityTokenIDs(t *testing.T) {
	fx := loadFixture(t)
	if len(fx.Cases) < 300 {
		t.Fatalf("fixture has %d cases, want >= 300", len(fx.Cases))
	}
	l := sharedModel(t)
	if l.Model.Tokenizer.MaxLen != fx.MaxSeqLength {
		t.Errorf("max_seq_length %d, reference %d", l.Model.Tokenizer.MaxLen, fx.MaxSeqLength)
	}
	bad := 0
	for i, c := range fx.Cases {
		in := c.input(t)
		got := l.Tokenize(in)
		if !equalIDs(got, c.IDs) {
			bad++
			if bad <= 15 {
				t.Errorf("case %d (%s) %q:\n got  %v\n want %v", i, c.Kind, trunc(in), got, c.IDs)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d inputs tokenize differently", bad, len(fx.Cases))
	}
}

func trunc(s string) string {
	if len(s) > 120 {
		return s[:120] + "..."
	}
	return s
}

func equalIDs(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestParityEmbeddings(t *testing.T) {
	fx := loadFixture(t)
	l := sharedModel(t)
	cases := fx.Cases
	if puregoBuild {
		// Scalar kernels: every 10th case (all kinds still appear); the full
		// set runs in the default build. The kernels themselves are
		// checked against each other by native's tests.
		cases = nil
		for i := 0; i < len(fx.Cases); i += 10 {
			cases = append(cases, fx.Cases[i])
		}
	}
	texts := make([]string, len(cases))
	for i, c := range cases {
		texts[i] = c.input(t)
	}
	got, err := l.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	worst, worstI := 2.0, -1
	for i, c := range cases {
		want := c.embedding(t)
		if len(got[i]) != len(want) {
			t.Fatalf("case %d: dimension %d, reference %d", i, len(got[i]), len(want))
		}
		cs := cosine64(got[i], want)
		if cs < worst {
			worst, worstI = cs, i
		}
		if cs < 0.9999 {
			t.Errorf("case %d (%s) %q: cosine %.6f < 0.9999", i, c.Kind, trunc(texts[i]), cs)
		}
	}
	t.Logf("worst cosine %.9f (1-cos %.2e, %s) over %d inputs", worst, 1-worst, cases[worstI].Kind, len(cases))
}

func cosine64(a, b []float32) float64 {
	var d, na, nb float64
	for i := range a {
		d += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	return d / math.Sqrt(na*nb)
}
