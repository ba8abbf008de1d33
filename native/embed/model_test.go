package embed

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// writeSafetensors writes float32 tensors in the safetensors layout.
func writeSafetensors(t testing.TB, path string, tensors map[string][]float32, shapes map[string][]int) {
	t.Helper()
	names := make([]string, 0, len(tensors))
	for n := range tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	hdr := map[string]any{"__metadata__": map[string]string{"format": "pt"}}
	var off int64
	for _, n := range names {
		sz := int64(4 * len(tensors[n]))
		hdr[n] = map[string]any{"dtype": "F32", "shape": shapes[n], "data_offsets": []int64{off, off + sz}}
		off += sz
	}
	hj, _ := json.Marshal(hdr)
	for len(hj)%8 != 0 {
		hj = append(hj, ' ')
	}
	buf := binary.LittleEndian.AppendUint64(nil, uint64(len(hj)))
	buf = append(buf, hj...)
	for _, n := range names {
		for _, v := range tensors[n] {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		}
	}
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Fatal(err)
	}
}

const tinyH, tinyI, tinyHeads, tinyLayers, tinyPos = 8, 16, 2, 2, 32

// writeTinyModel writes a random 2-layer BERT with the test vocabulary: a
// complete sentence-transformers directory that loads without downloads.
func writeTinyModel(t testing.TB, dir string) {
	t.Helper()
	writeVocab(t, dir, true)
	V := len(testVocab)
	cfg := fmt.Sprintf(`{"architectures": ["BertModel"], "model_type": "bert", "vocab_size": %d, "hidden_size": %d,
	 "num_hidden_layers": %d, "num_attention_heads": %d, "intermediate_size": %d, "hidden_act": "gelu",
	 "max_position_embeddings": %d, "type_vocab_size": 2, "layer_norm_eps": 1e-12, "position_embedding_type": "absolute"}`,
		V, tinyH, tinyLayers, tinyHeads, tinyI, tinyPos)
	files := map[string]string{
		"config.json":               cfg,
		"modules.json":              `[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},{"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"},{"idx":2,"name":"2","path":"2_Normalize","type":"sentence_transformers.models.Normalize"}]`,
		"sentence_bert_config.json": `{"max_seq_length": 16, "do_lower_case": false}`,
		"1_Pooling/config.json":     fmt.Sprintf(`{"word_embedding_dimension": %d, "pooling_mode_mean_tokens": true}`, tinyH),
	}
	for name, body := range files {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rng := rand.New(rand.NewSource(1))
	tensors, shapes := map[string][]float32{}, map[string][]int{}
	add := func(name string, ones bool, shape ...int) {
		n := 1
		for _, d := range shape {
			n *= d
		}
		v := make([]float32, n)
		for i := range v {
			if ones {
				v[i] = 1
			} else {
				v[i] = float32(rng.NormFloat64() * 0.3)
			}
		}
		tensors[name], shapes[name] = v, shape
	}
	add("embeddings.word_embeddings.weight", false, V, tinyH)
	add("embeddings.position_embeddings.weight", false, tinyPos, tinyH)
	add("embeddings.token_type_embeddings.weight", false, 2, tinyH)
	add("embeddings.LayerNorm.weight", true, tinyH)
	add("embeddings.LayerNorm.bias", false, tinyH)
	for l := 0; l < tinyLayers; l++ {
		p := fmt.Sprintf("encoder.layer.%d.", l)
		for _, n := range []string{"attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"} {
			add(p+n+".weight", false, tinyH, tinyH)
			add(p+n+".bias", false, tinyH)
		}
		add(p+"attention.output.LayerNorm.weight", true, tinyH)
		add(p+"attention.output.LayerNorm.bias", false, tinyH)
		add(p+"intermediate.dense.weight", false, tinyI, tinyH)
		add(p+"intermediate.dense.bias", false, tinyI)
		add(p+"output.dense.weight", false, tinyH, tinyI)
		add(p+"output.dense.bias", false, tinyH)
		add(p+"output.LayerNorm.weight", true, tinyH)
		add(p+"output.LayerNorm.bias", false, tinyH)
	}
	writeSafetensors(t, filepath.Join(dir, "model.safetensors"), tensors, shapes)
}

func TestTinyModelLoadsAndEmbeds(t *testing.T) {
	dir := t.TempDir()
	writeTinyModel(t, dir)
	l, err := NewLocal(dir, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	if l.Dimension() != tinyH || !l.Model.Normalize || l.Model.Tokenizer.MaxLen != 16 {
		t.Fatalf("dimension %d normalize %v maxlen %d", l.Dimension(), l.Model.Normalize, l.Model.Tokenizer.MaxLen)
	}
	texts := []string{"hello world", "the cafe", "", "unaffable hello the world the naive", "中国 hello", "hello world"}
	all, err := l.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range all {
		var n float64
		for _, x := range v {
			n += float64(x) * float64(x)
		}
		if math.Abs(n-1) > 1e-5 {
			t.Errorf("text %d: norm² %v", i, n)
		}
		// Packing several sequences into one pass must give the same
		// vector as encoding the text alone.
		one, err := l.Embed(context.Background(), []string{texts[i]})
		if err != nil {
			t.Fatal(err)
		}
		if c := cosine64(v, one[0]); c < 0.999999 {
			t.Errorf("text %d: batched vs alone cosine %v", i, c)
		}
	}
	if cosine64(all[0], all[5]) < 0.999999 {
		t.Error("same text, different vectors")
	}
	if cosine64(all[0], all[1]) > 0.9999 {
		t.Error("different texts, same vector: encoder ignores its input")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Embed(ctx, texts); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

// edit loads a fresh tiny model dir, applies f, and returns Load's error.
func loadEdited(t *testing.T, f func(dir string)) error {
	dir := t.TempDir()
	writeTinyModel(t, dir)
	f(dir)
	_, err := Load(dir)
	return err
}

func rewriteJSON(t *testing.T, path string, f func(m map[string]any)) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(data, &m)
	f(m)
	data, _ = json.Marshal(m)
	os.WriteFile(path, data, 0o644)
}

func TestLoadErrorsNameTheProblem(t *testing.T) {
	cases := []struct {
		name        string
		edit        func(dir string)
		want        []string
		unsupported bool
	}{
		{"missing config", func(d string) { os.Remove(filepath.Join(d, "config.json")) }, []string{"config.json"}, false},
		{"corrupt config", func(d string) { os.WriteFile(filepath.Join(d, "config.json"), []byte("{\"hidden"), 0o644) }, []string{"config.json"}, false},
		{"roberta", func(d string) {
			rewriteJSON(t, filepath.Join(d, "config.json"), func(m map[string]any) { m["model_type"] = "roberta" })
		}, []string{"config.json", "model_type", "roberta"}, true},
		{"architecture", func(d string) {
			rewriteJSON(t, filepath.Join(d, "config.json"), func(m map[string]any) { m["architectures"] = []string{"GPT2Model"} })
		}, []string{"config.json", "GPT2Model"}, true},
		{"activation", func(d string) {
			rewriteJSON(t, filepath.Join(d, "config.json"), func(m map[string]any) { m["hidden_act"] = "mish" })
		}, []string{"config.json", "hidden_act", "mish"}, true},
		{"relative positions", func(d string) {
			rewriteJSON(t, filepath.Join(d, "config.json"), func(m map[string]any) { m["position_embedding_type"] = "relative_key" })
		}, []string{"position_embedding_type"}, true},
		{"heads", func(d string) {
			rewriteJSON(t, filepath.Join(d, "config.json"), func(m map[string]any) { m["num_attention_heads"] = 3 })
		}, []string{"config.json", "num_attention_heads"}, false},
		{"missing weights", func(d string) { os.Remove(filepath.Join(d, "model.safetensors")) }, []string{"model.safetensors"}, false},
		{"pytorch only", func(d string) {
			os.Rename(filepath.Join(d, "model.safetensors"), filepath.Join(d, "pytorch_model.bin"))
		}, []string{"pytorch_model.bin", "safetensors"}, true},
		{"truncated weights", func(d string) {
			p := filepath.Join(d, "model.safetensors")
			st, _ := os.Stat(p)
			os.Truncate(p, st.Size()-100)
		}, []string{"model.safetensors", "data_offsets", "truncated"}, false},
		{"tiny file", func(d string) { os.WriteFile(filepath.Join(d, "model.safetensors"), []byte{1, 2}, 0o644) }, []string{"model.safetensors", "corrupt"}, false},
		{"garbage header", func(d string) {
			os.WriteFile(filepath.Join(d, "model.safetensors"), append(binary.LittleEndian.AppendUint64(nil, 4), "nope"...), 0o644)
		}, []string{"model.safetensors", "corrupt safetensors header"}, false},
		{"huge header length", func(d string) {
			os.WriteFile(filepath.Join(d, "model.safetensors"), binary.LittleEndian.AppendUint64(nil, 1<<40), 0o644)
		}, []string{"model.safetensors", "header length"}, false},
		{"wrong shape", func(d string) {
			rewriteJSON(t, filepath.Join(d, "config.json"), func(m map[string]any) { m["intermediate_size"] = 12 })
		}, []string{"model.safetensors", "intermediate.dense.weight", "shape"}, false},
		{"missing vocab", func(d string) { os.Remove(filepath.Join(d, "vocab.txt")) }, []string{"vocab.txt"}, false},
		{"corrupt modules", func(d string) { os.WriteFile(filepath.Join(d, "modules.json"), []byte("[{"), 0o644) }, []string{"modules.json"}, false},
		{"unknown module", func(d string) {
			os.WriteFile(filepath.Join(d, "modules.json"), []byte(`[{"name":"3","path":"3_Dense","type":"sentence_transformers.models.Dense"}]`), 0o644)
		}, []string{"modules.json", "Dense"}, true},
		{"two pooling modes", func(d string) {
			os.WriteFile(filepath.Join(d, "1_Pooling", "config.json"), []byte(`{"pooling_mode_mean_tokens": true, "pooling_mode_cls_token": true}`), 0o644)
		}, []string{"1_Pooling", "pooling modes"}, true},
		{"corrupt pooling", func(d string) { os.WriteFile(filepath.Join(d, "1_Pooling", "config.json"), []byte("{"), 0o644) }, []string{"1_Pooling"}, false},
		{"corrupt sbert config", func(d string) { os.WriteFile(filepath.Join(d, "sentence_bert_config.json"), []byte("x"), 0o644) }, []string{"sentence_bert_config.json"}, false},
	}
	for _, c := range cases {
		err := loadEdited(t, c.edit)
		if err == nil {
			t.Errorf("%s: loaded", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", c.name, err, w)
			}
		}
		if errors.Is(err, ErrUnsupported) != c.unsupported {
			t.Errorf("%s: errors.Is(ErrUnsupported) = %v: %v", c.name, !c.unsupported, err)
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "nope")); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("missing dir: %v", err)
	}
}

func TestPoolingModes(t *testing.T) {
	for _, mode := range []string{"cls_token", "max_tokens", "mean_sqrt_len_tokens"} {
		dir := t.TempDir()
		writeTinyModel(t, dir)
		os.WriteFile(filepath.Join(dir, "1_Pooling", "config.json"), []byte(`{"pooling_mode_mean_tokens": false, "pooling_mode_`+mode+`": true}`), 0o644)
		os.WriteFile(filepath.Join(dir, "modules.json"), []byte(`[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},{"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"}]`), 0o644)
		l, err := NewLocal(dir, 0, 1)
		if err != nil {
			t.Fatal(mode, err)
		}
		v, err := l.Embed(context.Background(), []string{"hello world the"})
		if err != nil || len(v[0]) != tinyH {
			t.Fatal(mode, err)
		}
		if l.Model.Normalize {
			t.Error("Normalize set without the module")
		}
	}
}
