package ingest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
)

// Options name the input fields (JSONL keys, CSV header columns, Parquet
// columns) that carry the id, the vector and the text. Every other field is
// copied into the document unchanged.
type Options struct {
	IDField     string // default "id"
	VectorField string // default "vector"
	TextField   string // default "text"
	// MaxLine bounds one JSONL/CSV line (default 64 MiB) so a file without
	// newlines cannot make the reader buffer it whole.
	MaxLine int
}

func (o Options) withDefaults() Options {
	if o.IDField == "" {
		o.IDField = "id"
	}
	if o.VectorField == "" {
		o.VectorField = "vector"
	}
	if o.TextField == "" {
		o.TextField = "text"
	}
	if o.MaxLine <= 0 {
		o.MaxLine = 64 << 20
	}
	return o
}

type jsonlReader struct {
	opt    Options
	src    io.Reader
	br     *bufio.Reader
	close  func() error
	line   int64 // 1-based number of the next line
	rec    int64
	off    int64
	acc    []byte
	failed error
	slab   slab
}

// NewJSONLReader streams one JSON object per line. Blank lines are skipped
// (they still count for line numbers). A malformed line is reported as a
// *RecordError with its line, record number and byte offset, and reading
// continues with the next line.
func NewJSONLReader(src io.Reader, opt Options) Reader {
	r := &jsonlReader{opt: opt.withDefaults(), src: src, br: bufio.NewReaderSize(src, 1<<20), line: 1}
	if c, ok := src.(io.Closer); ok {
		r.close = c.Close
	}
	return r
}

func (r *jsonlReader) Close() error {
	if r.close != nil {
		return r.close()
	}
	return nil
}

func (r *jsonlReader) Resume(next Position) error {
	s, ok := r.src.(io.Seeker)
	if !ok {
		return errors.New("jsonl: input is not seekable, cannot resume")
	}
	if _, err := s.Seek(next.Offset, io.SeekStart); err != nil {
		return fmt.Errorf("jsonl: seek to byte offset %d: %w", next.Offset, err)
	}
	r.br.Reset(r.src)
	r.rec, r.off, r.line = next.Record, next.Offset, next.Line
	if r.line < 1 {
		r.line = 1
	}
	return nil
}

// readLine returns the next line without its terminator, or io.EOF. A line
// longer than MaxLine is consumed and reported as too long.
func readLine(br *bufio.Reader, acc *[]byte, max int) (line []byte, n int, tooLong bool, err error) {
	*acc = (*acc)[:0]
	for {
		frag, e := br.ReadSlice('\n')
		n += len(frag)
		if len(*acc)+len(frag) <= max {
			*acc = append(*acc, frag...)
		} else {
			tooLong = true
		}
		if e == bufio.ErrBufferFull {
			continue
		}
		if e != nil && e != io.EOF {
			return nil, n, tooLong, e
		}
		if e == io.EOF && n == 0 {
			return nil, 0, false, io.EOF
		}
		l := *acc
		l = bytes.TrimSuffix(l, []byte{'\n'})
		l = bytes.TrimSuffix(l, []byte{'\r'})
		return l, n, tooLong, nil
	}
}

func (r *jsonlReader) Next() (Record, error) {
	if r.failed != nil {
		return Record{}, r.failed
	}
	for {
		line, n, tooLong, err := readLine(r.br, &r.acc, r.opt.MaxLine)
		if err == io.EOF {
			return Record{}, io.EOF
		}
		pos := Position{Record: r.rec, Line: r.line, Offset: r.off}
		if err != nil {
			r.failed = &FormatError{Pos: pos, Err: fmt.Errorf("jsonl: read: %w", err)}
			return Record{}, r.failed
		}
		r.line++
		r.off += int64(n)
		if tooLong {
			r.rec++
			return Record{}, &RecordError{Pos: pos, Err: fmt.Errorf("jsonl: line longer than %d bytes", r.opt.MaxLine)}
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		r.rec++
		rec, err := r.parse(line)
		if err != nil {
			return Record{}, &RecordError{Pos: pos, Err: fmt.Errorf("jsonl: %w", err)}
		}
		rec.Pos = pos
		return rec, nil
	}
}

func (r *jsonlReader) parse(line []byte) (Record, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(line, &obj); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return Record{}, fmt.Errorf("invalid JSON at column %d: %w", se.Offset, err)
		}
		return Record{}, fmt.Errorf("not a JSON object: %w", err)
	}
	var rec Record
	if raw, ok := obj[r.opt.IDField]; ok {
		id, err := parseID(raw)
		if err != nil {
			return Record{}, fmt.Errorf("field %q: %w", r.opt.IDField, err)
		}
		rec.ID = id
		delete(obj, r.opt.IDField)
	}
	if raw, ok := obj[r.opt.VectorField]; ok {
		if !bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			v, err := parseVector(raw, &r.slab)
			if err != nil {
				return Record{}, fmt.Errorf("field %q: %w", r.opt.VectorField, err)
			}
			rec.Vector = v
		}
		delete(obj, r.opt.VectorField)
	}
	if raw, ok := obj[r.opt.TextField]; ok {
		if err := json.Unmarshal(raw, &rec.Text); err != nil {
			return Record{}, fmt.Errorf("field %q: want a string: %w", r.opt.TextField, err)
		}
		rec.HasText = true
		delete(obj, r.opt.TextField)
	}
	if len(obj) > 0 {
		names := make([]string, 0, len(obj))
		for k := range obj {
			names = append(names, k)
		}
		sort.Strings(names) // deterministic documents and content hashes
		rec.Fields = make([]Field, len(names))
		for i, k := range names {
			rec.Fields[i] = Field{Name: k, Raw: bytes.TrimSpace(obj[k])}
		}
	}
	return rec, nil
}

func parseID(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", err
		}
		if s == "" {
			return "", errors.New("empty id")
		}
		return s, nil
	}
	if len(raw) > 0 && (raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9')) {
		return string(raw), nil
	}
	return "", fmt.Errorf("want a string or a number, got %.20s", raw)
}

// parseVector parses a JSON array of numbers without reflection.
func parseVector(raw []byte, s *slab) ([]float32, error) {
	i := skipWS(raw, 0)
	if i >= len(raw) || raw[i] != '[' {
		return nil, errors.New("want an array of numbers")
	}
	i++
	// Count elements first so the vector is one exact-size allocation.
	n := 0
	if j := skipWS(raw, i); j < len(raw) && raw[j] != ']' {
		n = 1 + bytes.Count(raw[i:], []byte{','})
	}
	out := s.get(n)
	k := 0
	for {
		i = skipWS(raw, i)
		if i >= len(raw) {
			return nil, errors.New("unterminated array")
		}
		if raw[i] == ']' && k == 0 {
			i++
			break
		}
		j := i
		for j < len(raw) && raw[j] != ',' && raw[j] != ']' && raw[j] != ' ' && raw[j] != '\t' && raw[j] != '\n' && raw[j] != '\r' {
			j++
		}
		if k >= n {
			return nil, fmt.Errorf("element %d: malformed array", k)
		}
		f, err := strconv.ParseFloat(string(raw[i:j]), 32)
		if err != nil || !isJSONNumber(raw[i:j]) {
			return nil, fmt.Errorf("element %d: %q is not a number", k, raw[i:j])
		}
		out[k] = float32(f)
		k++
		i = skipWS(raw, j)
		if i >= len(raw) {
			return nil, errors.New("unterminated array")
		}
		if raw[i] == ']' {
			i++
			break
		}
		if raw[i] != ',' {
			return nil, fmt.Errorf("element %d: expected ',' or ']'", k)
		}
		i++
	}
	if k != n {
		return nil, fmt.Errorf("malformed array (%d elements parsed, %d separators)", k, n)
	}
	if skipWS(raw, i) != len(raw) {
		return nil, errors.New("trailing data after the array")
	}
	return out, nil
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// isJSONNumber rejects what strconv accepts but JSON does not (NaN, Inf,
// hex, underscores, leading '+'); NaN/Inf get their own check later only if
// they could be represented, which in JSON they cannot.
func isJSONNumber(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E') {
			return false
		}
	}
	return b[0] != '+'
}

func (r *jsonlReader) Tell() Position { return Position{Record: r.rec, Line: r.line, Offset: r.off} }
