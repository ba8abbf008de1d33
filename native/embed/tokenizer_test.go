package embed

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testVocab is a small BERT-style vocabulary for tokenizer unit tests that
// need no model download.
var testVocab = []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
	"hello", "world", "un", "##aff", "##able", "the", "cafe", "naive", ",", "!", ".", "'", "s",
	"中", "国", "##s", "a", "b", "##b", "i", "##̇", "$", "5", "##0", "e", "-", "x", "##x", "new", "york", "straße"}

func writeVocab(t testing.TB, dir string, lower bool) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "vocab.txt"), []byte(strings.Join(testVocab, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := `{"do_lower_case": false, "tokenize_chinese_chars": true}`
	if lower {
		cfg = `{"do_lower_case": true}`
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
}

func testTokenizer(t testing.TB, lower bool, maxLen int) *Tokenizer {
	dir := t.TempDir()
	writeVocab(t, dir, lower)
	tok, err := LoadTokenizer(dir, maxLen)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (t *Tokenizer) tokens(s string) []string {
	var out []string
	for _, id := range t.Encode(s) {
		out = append(out, t.Token(id))
	}
	return out
}

func TestTokenizerBasics(t *testing.T) {
	tok := testTokenizer(t, true, 64)
	cases := map[string]string{
		"Hello, World!":          "[CLS] hello , world ! [SEP]",
		"unaffable":              "[CLS] un ##aff ##able [SEP]",
		"Café NAÏVE":             "[CLS] cafe naive [SEP]",  // accents stripped, lower-cased
		"中国":                     "[CLS] 中 国 [SEP]",         // CJK split
		"中s":                     "[CLS] 中 s [SEP]",         // CJK isolated from a following letter
		"unknownword hello":      "[CLS] [UNK] hello [SEP]", // whole word -> [UNK]
		"hello\x00world":         "[CLS] [UNK] [SEP]",       // NUL removed, words join: "helloworld" has no pieces
		"hello\u200bworld":       "[CLS] [UNK] [SEP]",       // zero-width space (Cf) removed
		"hello\u00a0world":       "[CLS] hello world [SEP]", // NBSP is whitespace
		"hello\tworld\r\n":       "[CLS] hello world [SEP]", // tab/newline are whitespace
		"hello \xff\xfe world":   "[CLS] hello world [SEP]", // invalid UTF-8 -> U+FFFD -> removed
		"$50":                    "[CLS] $ 5 ##0 [SEP]",     // ASCII symbols are BERT punctuation
		"x-x":                    "[CLS] x - x [SEP]",
		"hello [MASK] world":     "[CLS] hello [MASK] world [SEP]", // special token kept whole
		"hello[MASK]":            "[CLS] hello [MASK] [SEP]",
		"[mask]":                 "[CLS] [UNK] mask [UNK] [SEP]", // not the special token: "[" "mask" "]"
		"İ":                      "[CLS] i [SEP]",                // Rust to_lowercase: i + U+0307, then... (see below)
		"":                       "[CLS] [SEP]",
		"   \t\n ":               "[CLS] [SEP]",
		strings.Repeat("x", 101): "[CLS] [UNK] [SEP]", // > max_input_chars_per_word
	}
	// [ and ] are punctuation, "mask" is not in the vocab.
	cases["[mask]"] = "[CLS] [UNK] [UNK] [UNK] [SEP]"
	for in, want := range cases {
		if got := strings.Join(tok.tokens(in), " "); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}

func TestTokenizerCasedAndTruncation(t *testing.T) {
	tok := testTokenizer(t, false, 5)
	if got := strings.Join(tok.tokens("Hello hello"), " "); got != "[CLS] [UNK] hello [SEP]" {
		t.Errorf("cased: %q", got)
	}
	// max length 5 = [CLS] + 3 pieces + [SEP]; truncation cuts inside a word.
	if got := strings.Join(tok.tokens("hello unaffable world"), " "); got != "[CLS] hello un ##aff [SEP]" {
		t.Errorf("truncated: %q", got)
	}
	long := strings.Repeat("hello ", 100000)
	if got := len(tok.Encode(long)); got != 5 {
		t.Errorf("long input: %d ids", got)
	}
}

func TestEncodeBatchPadsAndMasks(t *testing.T) {
	tok := testTokenizer(t, true, 16)
	b := tok.EncodeBatch([]string{"hello", "hello world !", ""})
	wantLens := []int{3, 5, 2}
	for i, l := range wantLens {
		if b.Lengths[i] != l || len(b.InputIDs[i]) != 5 || len(b.AttentionMask[i]) != 5 || len(b.TokenTypeIDs[i]) != 5 {
			t.Fatalf("row %d: len %d, shapes %d %d %d", i, b.Lengths[i], len(b.InputIDs[i]), len(b.AttentionMask[i]), len(b.TokenTypeIDs[i]))
		}
		for j := 0; j < 5; j++ {
			if (j < l) != (b.AttentionMask[i][j] == 1) {
				t.Errorf("row %d mask %v", i, b.AttentionMask[i])
			}
			if j >= l && b.InputIDs[i][j] != 0 {
				t.Errorf("row %d not padded with [PAD]: %v", i, b.InputIDs[i])
			}
		}
	}
}

func TestLoadTokenizerErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadTokenizer(dir, 16); err == nil || !strings.Contains(err.Error(), "vocab.txt") {
		t.Errorf("no vocab: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "tokenizer.json"), []byte(`{"model": {"type": "BPE", "vocab": {"a": 0}}}`), 0o644)
	if _, err := LoadTokenizer(dir, 16); err == nil || !strings.Contains(err.Error(), "BPE") || !strings.Contains(err.Error(), "tokenizer.json") {
		t.Errorf("BPE: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "tokenizer.json"), []byte(`{"model": `), 0o644)
	if _, err := LoadTokenizer(dir, 16); err == nil || !strings.Contains(err.Error(), "tokenizer.json") {
		t.Errorf("corrupt tokenizer.json: %v", err)
	}
	os.Remove(filepath.Join(dir, "tokenizer.json"))
	os.WriteFile(filepath.Join(dir, "vocab.txt"), []byte("[PAD]\nhello\n"), 0o644)
	if _, err := LoadTokenizer(dir, 16); err == nil || !strings.Contains(err.Error(), "is not in the vocabulary") {
		t.Errorf("vocab without [UNK]: %v", err)
	}
}

// The vocab.txt path and the tokenizer.json path of the real model must
// agree on every fixture input.
func TestVocabTxtMatchesTokenizerJSON(t *testing.T) {
	dir := modelDir(t)
	fx := loadFixture(t)
	tmp := t.TempDir()
	for _, f := range []string{"vocab.txt", "tokenizer_config.json", "special_tokens_map.json"} {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(tmp, f), data, 0o644)
	}
	slow, err := LoadTokenizer(tmp, fx.MaxSeqLength)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range fx.Cases {
		if got := slow.Encode(c.input(t)); !equalIDs(got, c.IDs) {
			t.Errorf("case %d (%s): vocab.txt tokenizer gives %v, want %v", i, c.Kind, got, c.IDs)
		}
	}
}

// Normalizing a long input in pieces must give exactly the tokens of
// normalizing it whole.
func TestChunkedNormalizationIsExact(t *testing.T) {
	tok := testTokenizer(t, true, 100000)
	var sb strings.Builder
	parts := []string{"Hello", "wörld", "中国", "un\u0301affable", "x-x", "\t", strings.Repeat("b", 150), "Café!", "\n", "İ"}
	for i := 0; sb.Len() < 20000; i++ {
		sb.WriteString(parts[i%len(parts)])
		if i%3 != 0 {
			sb.WriteByte(' ')
		}
	}
	text := sb.String()
	got := tok.Encode(text)
	want := []int32{tok.clsID}
	tok.encodePiece(text, &want, 1<<30)
	want = append(want, tok.sepID)
	if !equalIDs(got, want) {
		t.Fatalf("chunked: %d ids, whole: %d ids", len(got), len(want))
	}
}
