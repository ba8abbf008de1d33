package embed

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
)

// BertConfig is the subset of a Hugging Face config.json that a BERT
// encoder needs. Field names follow transformers' BertConfig.
type BertConfig struct {
	Architectures         []string `json:"architectures"`
	ModelType             string   `json:"model_type"`
	VocabSize             int      `json:"vocab_size"`
	HiddenSize            int      `json:"hidden_size"`
	NumHiddenLayers       int      `json:"num_hidden_layers"`
	NumAttentionHeads     int      `json:"num_attention_heads"`
	IntermediateSize      int      `json:"intermediate_size"`
	HiddenAct             string   `json:"hidden_act"`
	MaxPositionEmbeddings int      `json:"max_position_embeddings"`
	TypeVocabSize         int      `json:"type_vocab_size"`
	LayerNormEps          float64  `json:"layer_norm_eps"`
	PositionEmbeddingType string   `json:"position_embedding_type"`
}

// Pooling is sentence-transformers' 1_Pooling/config.json.
type Pooling struct {
	WordEmbeddingDimension int  `json:"word_embedding_dimension"`
	CLSToken               bool `json:"pooling_mode_cls_token"`
	MeanTokens             bool `json:"pooling_mode_mean_tokens"`
	MaxTokens              bool `json:"pooling_mode_max_tokens"`
	MeanSqrtLenTokens      bool `json:"pooling_mode_mean_sqrt_len_tokens"`
	// Modes sentence-transformers has that we do not run; set means error.
	WeightedMeanTokens bool `json:"pooling_mode_weightedmean_tokens"`
	LastToken          bool `json:"pooling_mode_lasttoken"`
	// Mode is the newer single-string form ("mean", "cls", "max",
	// "mean_sqrt_len_tokens"); it overrides the flags when set.
	Mode string `json:"pooling_mode"`
}

type sbertConfig struct {
	MaxSeqLength *int `json:"max_seq_length"`
	DoLowerCase  bool `json:"do_lower_case"`
}

type stModule struct {
	Idx  int    `json:"idx"`
	Name string `json:"name"`
	Path string `json:"path"`
	Type string `json:"type"`
}

// Model is a loaded sentence-embedding model: tokenizer, BERT encoder,
// pooling and optional L2 normalization, as sentence-transformers composes
// them from modules.json.
type Model struct {
	Name      string
	Dir       string
	Config    BertConfig
	Pooling   Pooling
	Normalize bool
	// LowerInput is sentence_bert_config.json's do_lower_case: the
	// sentence-transformers Transformer module lowercases text itself.
	LowerInput bool
	Tokenizer  *Tokenizer

	act     func([]float32)
	wordEmb []float32 // [vocab, H]
	posEmb  []float32 // [maxPos, H]
	typeEmb []float32 // [types, H]
	embLNw  []float32
	embLNb  []float32
	layers  []bertLayer
}

type bertLayer struct {
	qkv        *linear // fused query/key/value: [3H, H]
	o          *linear // attention output: [H, H]
	ln1W, ln1B []float32
	inter      *linear // intermediate: [I, H]
	out        *linear // output: [H, I]
	ln2W, ln2B []float32
}

// ErrUnsupported marks a model this package cannot run (architecture,
// activation, position embeddings, tokenizer type).
var ErrUnsupported = errors.New("unsupported model")

// Load reads a Hugging Face / sentence-transformers model directory.
// Every error names the file it comes from.
func Load(dir string) (*Model, error) {
	if st, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("model directory: %w", err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("model directory %s is not a directory", dir)
	}
	m := &Model{Dir: dir, Name: modelName(dir)}
	cfgPath := filepath.Join(dir, "config.json")
	if err := readJSON(cfgPath, &m.Config); err != nil {
		return nil, fmt.Errorf("model config: %w", err)
	}
	if err := m.checkConfig(cfgPath); err != nil {
		return nil, err
	}

	// modules.json decides pooling and normalization; without it we do
	// what sentence-transformers does for a plain Hugging Face model:
	// mean pooling, no normalization.
	m.Pooling = Pooling{MeanTokens: true}
	poolDir := "1_Pooling"
	var modules []stModule
	if err := readJSONOptional(filepath.Join(dir, "modules.json"), &modules); err != nil {
		return nil, fmt.Errorf("modules: %w", err)
	}
	for _, mod := range modules {
		switch {
		case strings.HasSuffix(mod.Type, ".Transformer"):
			if mod.Path != "" {
				return nil, fmt.Errorf("%s: Transformer module in subdirectory %q is not supported: %w", filepath.Join(dir, "modules.json"), mod.Path, ErrUnsupported)
			}
		case strings.HasSuffix(mod.Type, ".Pooling"):
			poolDir = mod.Path
		case strings.HasSuffix(mod.Type, ".Normalize"):
			m.Normalize = true
		default:
			return nil, fmt.Errorf("%s: module %q of type %s is not supported (Transformer, Pooling, Normalize are): %w", filepath.Join(dir, "modules.json"), mod.Name, mod.Type, ErrUnsupported)
		}
	}
	if poolDir != "" {
		p := filepath.Join(dir, poolDir, "config.json")
		if err := readJSONOptional(p, &m.Pooling); err != nil {
			return nil, fmt.Errorf("pooling config: %w", err)
		}
		if m.Pooling.WeightedMeanTokens || m.Pooling.LastToken {
			return nil, fmt.Errorf("%s: weightedmean / lasttoken pooling is not supported: %w", p, ErrUnsupported)
		}
		switch m.Pooling.Mode {
		case "":
		case "mean", "cls", "max", "mean_sqrt_len_tokens":
			pm := m.Pooling.Mode
			m.Pooling.MeanTokens, m.Pooling.CLSToken, m.Pooling.MaxTokens, m.Pooling.MeanSqrtLenTokens = pm == "mean", pm == "cls", pm == "max", pm == "mean_sqrt_len_tokens"
		default:
			return nil, fmt.Errorf("%s: pooling_mode %q is not supported: %w", p, m.Pooling.Mode, ErrUnsupported)
		}
		// sentence-transformers concatenates the vectors of several modes;
		// we run one.
		if n := b2i(m.Pooling.CLSToken) + b2i(m.Pooling.MeanTokens) + b2i(m.Pooling.MaxTokens) + b2i(m.Pooling.MeanSqrtLenTokens); n != 1 {
			return nil, fmt.Errorf("%s: %d pooling modes set; exactly one of cls/mean/max/mean_sqrt_len is supported: %w", p, n, ErrUnsupported)
		}
		if d := m.Pooling.WordEmbeddingDimension; d != 0 && d != m.Config.HiddenSize {
			return nil, fmt.Errorf("%s: word_embedding_dimension %d differs from config.json hidden_size %d", p, d, m.Config.HiddenSize)
		}
	}

	// Sequence length: sentence_bert_config.json's max_seq_length, capped
	// by the position table and tokenizer_config.json's model_max_length
	// (sentence-transformers' Transformer module does the same).
	maxLen := m.Config.MaxPositionEmbeddings
	var sb sbertConfig
	if err := readJSONOptional(filepath.Join(dir, "sentence_bert_config.json"), &sb); err != nil {
		return nil, fmt.Errorf("sentence-transformers config: %w", err)
	}
	var tc tokenizerConfig
	if err := readJSONOptional(filepath.Join(dir, "tokenizer_config.json"), &tc); err != nil {
		return nil, fmt.Errorf("tokenizer config: %w", err)
	}
	if sb.MaxSeqLength != nil {
		maxLen = min(maxLen, *sb.MaxSeqLength)
	} else if tc.ModelMaxLength != nil && *tc.ModelMaxLength > 0 && *tc.ModelMaxLength < float64(maxLen) {
		maxLen = int(*tc.ModelMaxLength)
	}
	m.LowerInput = sb.DoLowerCase
	tok, err := LoadTokenizer(dir, maxLen)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	if tok.VocabSize() > m.Config.VocabSize {
		return nil, fmt.Errorf("tokenizer in %s has %d ids, more than config.json vocab_size %d", dir, tok.VocabSize(), m.Config.VocabSize)
	}
	m.Tokenizer = tok

	if err := m.loadWeights(dir); err != nil {
		return nil, err
	}
	// The raw file bytes are garbage now; give them back so the resident
	// set is the float32 weights only.
	runtime.GC()
	debug.FreeOSMemory()
	return m, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func modelName(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	return filepath.Base(abs)
}

func (m *Model) checkConfig(path string) error {
	c := &m.Config
	if c.ModelType != "bert" {
		return fmt.Errorf("%s: model_type %q: only BERT encoders (model_type \"bert\") are supported: %w", path, c.ModelType, ErrUnsupported)
	}
	for _, a := range c.Architectures {
		if !strings.HasPrefix(a, "Bert") {
			return fmt.Errorf("%s: architecture %q is not a BERT encoder: %w", path, a, ErrUnsupported)
		}
	}
	if c.PositionEmbeddingType != "" && c.PositionEmbeddingType != "absolute" {
		return fmt.Errorf("%s: position_embedding_type %q: only \"absolute\" is supported: %w", path, c.PositionEmbeddingType, ErrUnsupported)
	}
	act, ok := activations[c.HiddenAct]
	if !ok {
		return fmt.Errorf("%s: hidden_act %q is not supported (gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, quick_gelu, relu, silu, swish are): %w", path, c.HiddenAct, ErrUnsupported)
	}
	m.act = act
	switch {
	case c.HiddenSize <= 0, c.NumHiddenLayers <= 0, c.NumAttentionHeads <= 0, c.IntermediateSize <= 0, c.VocabSize <= 0, c.MaxPositionEmbeddings <= 0:
		return fmt.Errorf("%s: hidden_size, num_hidden_layers, num_attention_heads, intermediate_size, vocab_size and max_position_embeddings must all be positive (got %d, %d, %d, %d, %d, %d)",
			path, c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.IntermediateSize, c.VocabSize, c.MaxPositionEmbeddings)
	case c.HiddenSize%c.NumAttentionHeads != 0:
		return fmt.Errorf("%s: hidden_size %d is not a multiple of num_attention_heads %d", path, c.HiddenSize, c.NumAttentionHeads)
	}
	if c.TypeVocabSize <= 0 {
		c.TypeVocabSize = 2
	}
	if c.LayerNormEps == 0 {
		c.LayerNormEps = 1e-12
	}
	return nil
}

func (m *Model) loadWeights(dir string) error {
	path := filepath.Join(dir, "model.safetensors")
	if _, err := os.Stat(path); err != nil {
		if _, err2 := os.Stat(filepath.Join(dir, "pytorch_model.bin")); err2 == nil {
			return fmt.Errorf("%s: only pytorch_model.bin is present; convert it once to model.safetensors (safetensors' convert script, or model.save_pretrained(dir, safe_serialization=True)): %w", dir, ErrUnsupported)
		}
		return fmt.Errorf("model weights: %w", err)
	}
	f, err := openSafetensors(path)
	if err != nil {
		return err
	}
	// Checkpoints saved from BertModel have bare names; ones saved from a
	// task head (BertForMaskedLM, ...) prefix them with "bert.".
	prefix := ""
	for _, n := range f.names() {
		if strings.HasSuffix(n, "embeddings.word_embeddings.weight") {
			prefix = strings.TrimSuffix(n, "embeddings.word_embeddings.weight")
			break
		}
	}
	c := m.Config
	H, I := c.HiddenSize, c.IntermediateSize
	var firstErr error
	get := func(name string, shape ...int) []float32 {
		if firstErr != nil {
			return nil
		}
		t, err := f.get(prefix+name, shape...)
		if err != nil {
			// Old TF-converted checkpoints call LayerNorm's parameters gamma/beta.
			alt := strings.NewReplacer("LayerNorm.weight", "LayerNorm.gamma", "LayerNorm.bias", "LayerNorm.beta").Replace(name)
			if alt != name {
				if t2, err2 := f.get(prefix+alt, shape...); err2 == nil {
					return t2.data
				}
			}
			firstErr = err
			return nil
		}
		return t.data
	}
	m.wordEmb = get("embeddings.word_embeddings.weight", c.VocabSize, H)
	m.posEmb = get("embeddings.position_embeddings.weight", c.MaxPositionEmbeddings, H)
	m.typeEmb = get("embeddings.token_type_embeddings.weight", c.TypeVocabSize, H)
	m.embLNw = get("embeddings.LayerNorm.weight", H)
	m.embLNb = get("embeddings.LayerNorm.bias", H)
	m.layers = make([]bertLayer, c.NumHiddenLayers)
	for i := range m.layers {
		p := fmt.Sprintf("encoder.layer.%d.", i)
		l := &m.layers[i]
		qW, kW, vW := get(p+"attention.self.query.weight", H, H), get(p+"attention.self.key.weight", H, H), get(p+"attention.self.value.weight", H, H)
		qB, kB, vB := get(p+"attention.self.query.bias", H), get(p+"attention.self.key.bias", H), get(p+"attention.self.value.bias", H)
		oW, oB := get(p+"attention.output.dense.weight", H, H), get(p+"attention.output.dense.bias", H)
		l.ln1W, l.ln1B = get(p+"attention.output.LayerNorm.weight", H), get(p+"attention.output.LayerNorm.bias", H)
		iW, iB := get(p+"intermediate.dense.weight", I, H), get(p+"intermediate.dense.bias", I)
		o2W, o2B := get(p+"output.dense.weight", H, I), get(p+"output.dense.bias", H)
		l.ln2W, l.ln2B = get(p+"output.LayerNorm.weight", H), get(p+"output.LayerNorm.bias", H)
		if firstErr != nil {
			break
		}
		qkvW := append(append(append(make([]float32, 0, 3*H*H), qW...), kW...), vW...)
		qkvB := append(append(append(make([]float32, 0, 3*H), qB...), kB...), vB...)
		l.qkv = newLinear(qkvW, qkvB, 3*H, H)
		l.o = newLinear(oW, oB, H, H)
		l.inter = newLinear(iW, iB, I, H)
		// The exact-erf GELU is fused into the packed kernel's tiles.
		l.inter.gelu = l.inter.panels != nil && c.HiddenAct == "gelu"
		l.out = newLinear(o2W, o2B, H, I)
	}
	if firstErr != nil {
		return firstErr
	}
	return nil
}

// Dimension is the embedding size.
func (m *Model) Dimension() int { return m.Config.HiddenSize }
