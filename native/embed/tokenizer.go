package embed

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Tokenizer is a BERT WordPiece tokenizer that reproduces the Hugging Face
// fast tokenizer pipeline (tokenizers crate: added-token split,
// BertNormalizer, BertPreTokenizer, WordPiece, TemplateProcessing
// "[CLS] $A [SEP]", longest-first truncation) token for token.
// Sources: huggingface/tokenizers src/normalizers/bert.rs,
// src/pre_tokenizers/bert.rs, src/models/wordpiece/mod.rs.
type Tokenizer struct {
	vocab    map[string]int32
	idToTok  []string
	unkID    int32
	clsID    int32
	sepID    int32
	padID    int32
	maxChars int    // WordPiece max_input_chars_per_word (100)
	prefix   string // continuing_subword_prefix ("##")

	// BertNormalizer options.
	cleanText    bool
	chineseChars bool
	stripAccents bool
	lowercase    bool

	// Added tokens matched on the raw text before normalization (the
	// tokenizers crate's AddedVocabulary, normalized=false tokens).
	added []addedToken

	// MaxLen is the total sequence length after [CLS]/[SEP] are added
	// (sentence-transformers' max_seq_length).
	MaxLen int
}

type addedToken struct {
	content      string
	id           int32
	lstrip       bool
	rstrip       bool
	singleWord   bool
	normalizedOn bool
}

// tokenizerJSON is the subset of tokenizer.json we read.
type tokenizerJSON struct {
	AddedTokens []struct {
		ID         int32  `json:"id"`
		Content    string `json:"content"`
		SingleWord bool   `json:"single_word"`
		LStrip     bool   `json:"lstrip"`
		RStrip     bool   `json:"rstrip"`
		Normalized bool   `json:"normalized"`
		Special    bool   `json:"special"`
	} `json:"added_tokens"`
	Normalizer *struct {
		Type               string `json:"type"`
		CleanText          *bool  `json:"clean_text"`
		HandleChineseChars *bool  `json:"handle_chinese_chars"`
		StripAccents       *bool  `json:"strip_accents"`
		Lowercase          *bool  `json:"lowercase"`
	} `json:"normalizer"`
	PreTokenizer *struct {
		Type string `json:"type"`
	} `json:"pre_tokenizer"`
	Model struct {
		Type                    string           `json:"type"`
		UnkToken                string           `json:"unk_token"`
		ContinuingSubwordPrefix *string          `json:"continuing_subword_prefix"`
		MaxInputCharsPerWord    int              `json:"max_input_chars_per_word"`
		Vocab                   map[string]int32 `json:"vocab"`
	} `json:"model"`
}

// tokenizerConfig is the subset of tokenizer_config.json /
// special_tokens_map.json we read (slow-tokenizer settings, used when only
// vocab.txt is present, and for the special-token names).
type tokenizerConfig struct {
	DoLowerCase          *bool    `json:"do_lower_case"`
	TokenizeChineseChars *bool    `json:"tokenize_chinese_chars"`
	StripAccents         *bool    `json:"strip_accents"`
	ModelMaxLength       *float64 `json:"model_max_length"`
	UnkToken             any      `json:"unk_token"`
	SepToken             any      `json:"sep_token"`
	PadToken             any      `json:"pad_token"`
	ClsToken             any      `json:"cls_token"`
	MaskToken            any      `json:"mask_token"`
	TokenizerClass       string   `json:"tokenizer_class"`
}

// tokenName reads a special token that is either a string or an
// AddedToken object {"content": ...}.
func tokenName(v any, def string) string {
	switch t := v.(type) {
	case string:
		return t
	case map[string]any:
		if s, ok := t["content"].(string); ok {
			return s
		}
	}
	return def
}

// LoadTokenizer reads a tokenizer from a Hugging Face model directory:
// tokenizer.json when present (what AutoTokenizer and sentence-transformers
// use), otherwise vocab.txt with tokenizer_config.json's BertTokenizer
// options. maxLen is the total sequence length including [CLS] and [SEP].
func LoadTokenizer(dir string, maxLen int) (*Tokenizer, error) {
	var cfg tokenizerConfig
	if err := readJSONOptional(filepath.Join(dir, "tokenizer_config.json"), &cfg); err != nil {
		return nil, err
	}
	var special tokenizerConfig
	if err := readJSONOptional(filepath.Join(dir, "special_tokens_map.json"), &special); err != nil {
		return nil, err
	}
	names := map[string]string{
		"unk": tokenName(special.UnkToken, tokenName(cfg.UnkToken, "[UNK]")),
		"sep": tokenName(special.SepToken, tokenName(cfg.SepToken, "[SEP]")),
		"pad": tokenName(special.PadToken, tokenName(cfg.PadToken, "[PAD]")),
		"cls": tokenName(special.ClsToken, tokenName(cfg.ClsToken, "[CLS]")),
	}
	t := &Tokenizer{maxChars: 100, prefix: "##", cleanText: true, chineseChars: true, lowercase: true, MaxLen: maxLen}
	if cfg.DoLowerCase != nil {
		t.lowercase = *cfg.DoLowerCase
	}
	if cfg.TokenizeChineseChars != nil {
		t.chineseChars = *cfg.TokenizeChineseChars
	}
	t.stripAccents = t.lowercase // HF: strip_accents None follows lowercase
	if cfg.StripAccents != nil {
		t.stripAccents = *cfg.StripAccents
	}

	tjPath := filepath.Join(dir, "tokenizer.json")
	if _, err := os.Stat(tjPath); err == nil {
		if err := t.loadTokenizerJSON(tjPath); err != nil {
			return nil, err
		}
	} else {
		vPath := filepath.Join(dir, "vocab.txt")
		if err := t.loadVocabTxt(vPath); err != nil {
			return nil, fmt.Errorf("no tokenizer.json in %s and %w", dir, err)
		}
		// The slow tokenizer never splits its special tokens.
		for _, n := range []string{names["unk"], names["sep"], names["pad"], names["cls"], tokenName(special.MaskToken, tokenName(cfg.MaskToken, "[MASK]"))} {
			if id, ok := t.vocab[n]; ok {
				t.added = append(t.added, addedToken{content: n, id: id})
			}
		}
	}
	for key, name := range names {
		id, ok := t.vocab[name]
		if !ok {
			return nil, fmt.Errorf("tokenizer in %s: special token %s %q is not in the vocabulary", dir, key, name)
		}
		switch key {
		case "unk":
			t.unkID = id
		case "sep":
			t.sepID = id
		case "pad":
			t.padID = id
		case "cls":
			t.clsID = id
		}
	}
	// Longest added token first, so "[MASK]" wins over a shorter prefix.
	sort.SliceStable(t.added, func(i, j int) bool { return len(t.added[i].content) > len(t.added[j].content) })
	if t.MaxLen < 2 {
		return nil, fmt.Errorf("tokenizer: max sequence length %d leaves no room for [CLS] and [SEP]", t.MaxLen)
	}
	return t, nil
}

func (t *Tokenizer) loadTokenizerJSON(path string) error {
	var tj tokenizerJSON
	if err := readJSON(path, &tj); err != nil {
		return err
	}
	if tj.Model.Type != "WordPiece" {
		return fmt.Errorf("%s: model.type %q is not supported (only WordPiece, the BERT tokenizer)", path, tj.Model.Type)
	}
	if len(tj.Model.Vocab) == 0 {
		return fmt.Errorf("%s: model.vocab is empty", path)
	}
	if n := tj.Normalizer; n != nil {
		if n.Type != "BertNormalizer" {
			return fmt.Errorf("%s: normalizer.type %q is not supported (only BertNormalizer)", path, n.Type)
		}
		if n.CleanText != nil {
			t.cleanText = *n.CleanText
		}
		if n.HandleChineseChars != nil {
			t.chineseChars = *n.HandleChineseChars
		}
		if n.Lowercase != nil {
			t.lowercase = *n.Lowercase
		}
		t.stripAccents = t.lowercase
		if n.StripAccents != nil {
			t.stripAccents = *n.StripAccents
		}
	}
	if p := tj.PreTokenizer; p != nil && p.Type != "BertPreTokenizer" {
		return fmt.Errorf("%s: pre_tokenizer.type %q is not supported (only BertPreTokenizer)", path, p.Type)
	}
	t.vocab = tj.Model.Vocab
	if tj.Model.ContinuingSubwordPrefix != nil {
		t.prefix = *tj.Model.ContinuingSubwordPrefix
	}
	if tj.Model.MaxInputCharsPerWord > 0 {
		t.maxChars = tj.Model.MaxInputCharsPerWord
	}
	for _, a := range tj.AddedTokens {
		t.added = append(t.added, addedToken{content: a.Content, id: a.ID, lstrip: a.LStrip, rstrip: a.RStrip, singleWord: a.SingleWord, normalizedOn: a.Normalized})
		if _, ok := t.vocab[a.Content]; !ok {
			t.vocab[a.Content] = a.ID
		}
	}
	t.buildReverse()
	return nil
}

func (t *Tokenizer) loadVocabTxt(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("vocabulary: %w", err)
	}
	defer f.Close()
	t.vocab = make(map[string]int32, 32000)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	var id int32
	for sc.Scan() {
		// HF load_vocab strips the trailing newline only ("token.rstrip('\n')").
		tok := strings.TrimRight(sc.Text(), "\r\n")
		if _, dup := t.vocab[tok]; !dup {
			t.vocab[tok] = id
		}
		id++
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: line %d: %w", path, id+1, err)
	}
	if len(t.vocab) == 0 {
		return fmt.Errorf("%s: empty vocabulary", path)
	}
	t.buildReverse()
	return nil
}

func (t *Tokenizer) buildReverse() {
	maxID := int32(0)
	for _, id := range t.vocab {
		maxID = max(maxID, id)
	}
	t.idToTok = make([]string, maxID+1)
	for tok, id := range t.vocab {
		t.idToTok[id] = tok
	}
}

// VocabSize is the number of token ids.
func (t *Tokenizer) VocabSize() int { return len(t.idToTok) }

// Token returns the string of an id ("" if out of range).
func (t *Tokenizer) Token(id int32) string {
	if id < 0 || int(id) >= len(t.idToTok) {
		return ""
	}
	return t.idToTok[id]
}

// Encode returns the token ids of text as [CLS] pieces... [SEP], truncated
// to MaxLen. Invalid UTF-8 bytes read as U+FFFD (what Python's
// errors="replace" gives), which clean_text then drops; never a panic.
func (t *Tokenizer) Encode(text string) []int32 {
	budget := t.MaxLen - 2
	ids := make([]int32, 1, min(budget+2, 64))
	ids[0] = t.clsID
	t.encodeInto(text, &ids, budget+1)
	return append(ids, t.sepID)
}

// encodeInto appends pieces to *ids until len(*ids) reaches limit; since
// truncation is longest-first on a single sequence it just keeps the first
// pieces, so we can stop early on huge inputs.
func (t *Tokenizer) encodeInto(text string, ids *[]int32, limit int) {
	if !utf8.ValidString(text) {
		text = strings.ToValidUTF8(text, "\uFFFD")
	}
	for len(text) > 0 && len(*ids) < limit {
		pos, end, tok := t.findAdded(text)
		seg := text[:pos]
		if tok != nil && tok.lstrip {
			seg = strings.TrimRightFunc(seg, unicode.IsSpace)
		}
		t.encodeSegment(seg, ids, limit)
		if tok == nil {
			return
		}
		if len(*ids) < limit {
			*ids = append(*ids, tok.id)
		}
		text = text[end:]
		if tok.rstrip {
			text = strings.TrimLeftFunc(text, unicode.IsSpace)
		}
	}
}

// findAdded finds the leftmost (then longest) added token in text.
// Returns pos=len(text) and nil when none occurs.
func (t *Tokenizer) findAdded(text string) (int, int, *addedToken) {
	best, bestEnd := len(text), len(text)
	var bt *addedToken
	for i := range t.added {
		a := &t.added[i]
		from := 0
		for {
			k := strings.Index(text[from:], a.content)
			if k < 0 {
				break
			}
			k += from
			if a.singleWord && !wordBoundary(text, k, k+len(a.content)) {
				from = k + 1
				continue
			}
			if k < best || (k == best && bt != nil && len(a.content) > len(bt.content)) {
				best, bestEnd, bt = k, k+len(a.content), a
			}
			break
		}
	}
	return best, bestEnd, bt
}

func wordBoundary(s string, i, j int) bool {
	if i > 0 {
		r, _ := utf8.DecodeLastRuneInString(s[:i])
		if isWordChar(r) {
			return false
		}
	}
	if j < len(s) {
		r, _ := utf8.DecodeRuneInString(s[j:])
		if isWordChar(r) {
			return false
		}
	}
	return true
}

func isWordChar(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

// encodeSegment normalizes, pre-tokenizes and WordPiece-splits seg.
func (t *Tokenizer) encodeSegment(seg string, ids *[]int32, limit int) {
	// Normalize in pieces cut before an ASCII whitespace byte past 4 KiB,
	// so a huge input stops costing work once the token budget is full.
	// Cutting there is exact: no word, CJK padding or NFD sequence spans
	// a whitespace character.
	for len(seg) > 0 && len(*ids) < limit {
		piece := seg
		if len(seg) > 4096 {
			if k := strings.IndexAny(seg[4096:], " \t\n\r"); k >= 0 {
				piece = seg[:4096+k]
			}
		}
		seg = seg[len(piece):]
		t.encodePiece(piece, ids, limit)
	}
}

func (t *Tokenizer) encodePiece(seg string, ids *[]int32, limit int) {
	norm := t.normalize(seg)
	// BertPreTokenizer: split on whitespace, each punctuation char alone.
	start := -1
	for i, r := range norm {
		switch {
		case unicode.IsSpace(r):
			if start >= 0 {
				t.wordPiece(norm[start:i], ids, limit)
				start = -1
			}
		case isBertPunct(r):
			if start >= 0 {
				t.wordPiece(norm[start:i], ids, limit)
				start = -1
			}
			t.wordPiece(norm[i:i+utf8.RuneLen(r)], ids, limit)
		default:
			if start < 0 {
				start = i
			}
		}
		if len(*ids) >= limit {
			return
		}
	}
	if start >= 0 {
		t.wordPiece(norm[start:], ids, limit)
	}
}

// normalize is BertNormalizer: clean_text, handle_chinese_chars,
// strip_accents (NFD then drop Mn), lowercase, in that order.
func (t *Tokenizer) normalize(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 8)
	for _, r := range s {
		if t.cleanText {
			if inTable(cleanRemoved, r) {
				continue
			}
			if inTable(cleanSpace, r) {
				r = ' '
			}
		}
		if t.chineseChars && isChineseChar(r) {
			b.WriteByte(' ')
			b.WriteRune(r)
			b.WriteByte(' ')
			continue
		}
		b.WriteRune(r)
	}
	out := b.String()
	if !t.stripAccents && !t.lowercase {
		return out
	}
	if t.stripAccents {
		out = norm.NFD.String(out)
	}
	b.Reset()
	b.Grow(len(out))
	for _, r := range out {
		if t.stripAccents && inTable(nonspacingMark, r) {
			continue
		}
		if t.lowercase {
			writeLower(&b, r)
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// writeLower is Rust's char::to_lowercase (full Unicode lowercase mapping,
// no context): the one unconditional multi-char mapping is U+0130 İ -> "i̇".
func writeLower(b *strings.Builder, r rune) {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		b.WriteByte(byte(r))
		return
	}
	if r == 0x130 {
		b.WriteString("i\u0307")
		return
	}
	b.WriteRune(unicode.ToLower(r))
}

// isChineseChar is the CJK block list of BERT's _is_chinese_char (the
// tokenizers crate uses the same ranges).
func isChineseChar(r rune) bool {
	return (r >= 0x4E00 && r <= 0x9FFF) || (r >= 0x3400 && r <= 0x4DBF) || (r >= 0x20000 && r <= 0x2A6DF) ||
		(r >= 0x2A700 && r <= 0x2B73F) || (r >= 0x2B740 && r <= 0x2B81F) || (r >= 0x2B920 && r <= 0x2CEAF) ||
		(r >= 0xF900 && r <= 0xFAFF) || (r >= 0x2F800 && r <= 0x2FA1F)
}

func isBertPunct(r rune) bool {
	if r < utf8.RuneSelf {
		return asciiPunct[r]
	}
	return inTable(bertPunct, r)
}

var asciiPunct = func() (t [128]bool) {
	for _, r := range "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~" {
		t[r] = true
	}
	return
}()

type cpRange struct{ lo, hi rune }

func inTable(tab []cpRange, r rune) bool {
	i := sort.Search(len(tab), func(i int) bool { return tab[i].hi >= r })
	return i < len(tab) && tab[i].lo <= r
}

// wordPiece appends the greedy longest-match-first pieces of word, or
// [UNK] for the whole word when any part has no match or the word is longer
// than max_input_chars_per_word characters.
func (t *Tokenizer) wordPiece(word string, ids *[]int32, limit int) {
	if word == "" || len(*ids) >= limit {
		return
	}
	if utf8.RuneCountInString(word) > t.maxChars {
		*ids = append(*ids, t.unkID)
		return
	}
	mark := len(*ids)
	var buf []byte
	start := 0
	for start < len(word) {
		end := len(word)
		found := int32(-1)
		for start < end {
			var id int32
			var ok bool
			if start == 0 {
				id, ok = t.vocab[word[:end]]
			} else {
				buf = append(append(buf[:0], t.prefix...), word[start:end]...)
				id, ok = t.vocab[string(buf)]
			}
			if ok {
				found = id
				break
			}
			_, n := utf8.DecodeLastRuneInString(word[start:end])
			end -= n
		}
		if found < 0 {
			*ids = append((*ids)[:mark], t.unkID)
			return
		}
		*ids = append(*ids, found)
		start = end
	}
	if len(*ids) > limit {
		*ids = (*ids)[:limit]
	}
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// readJSONOptional is readJSON that treats a missing file as empty.
func readJSONOptional(path string, v any) error {
	err := readJSON(path, v)
	if os.IsNotExist(err) {
		return nil
	}
	return err
}

// Batch is a padded batch as Hugging Face returns it with padding=True:
// rows padded with [PAD] to the longest sequence, attention mask 1 on real
// tokens and 0 on padding, token type ids all 0 (single sentences).
type Batch struct {
	InputIDs      [][]int32
	AttentionMask [][]int32
	TokenTypeIDs  [][]int32
	// Lengths are the unpadded lengths (the sum of each mask row).
	Lengths []int
}

// EncodeBatch tokenizes texts and pads them into a Batch. The encoder
// itself packs sequences without padding (Model.Forward); this is the
// interchange form for callers that need Hugging Face's tensors.
func (t *Tokenizer) EncodeBatch(texts []string) Batch {
	b := Batch{InputIDs: make([][]int32, len(texts)), AttentionMask: make([][]int32, len(texts)),
		TokenTypeIDs: make([][]int32, len(texts)), Lengths: make([]int, len(texts))}
	longest := 0
	for i, s := range texts {
		b.InputIDs[i] = t.Encode(s)
		b.Lengths[i] = len(b.InputIDs[i])
		longest = max(longest, b.Lengths[i])
	}
	for i := range texts {
		ids := make([]int32, longest)
		mask := make([]int32, longest)
		n := copy(ids, b.InputIDs[i])
		for j := range ids {
			if j < n {
				mask[j] = 1
			} else {
				ids[j] = t.padID
			}
		}
		b.InputIDs[i], b.AttentionMask[i], b.TokenTypeIDs[i] = ids, mask, make([]int32, longest)
	}
	return b
}
