package ingest

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

type csvReader struct {
	opt      Options
	src      io.Reader
	cr       *csv.Reader
	close    func() error
	header   []string
	idCol    int
	vecCol   int
	textCol  int
	lineBase int64 // lines before the current csv.Reader's first line
	offBase  int64
	rec      int64
	nextLine int64
	failed   error
	slab     slab
}

// NewCSVReader streams a CSV file with a header row. The vector column holds
// the components as a JSON array ("[0.1, 0.2]") or separated by spaces or
// semicolons; other columns become string fields of the document.
func NewCSVReader(src io.Reader, opt Options) (Reader, error) {
	r := &csvReader{opt: opt.withDefaults(), src: src, idCol: -1, vecCol: -1, textCol: -1}
	if c, ok := src.(io.Closer); ok {
		r.close = c.Close
	}
	r.cr = newCSV(src)
	h, err := r.cr.Read()
	if err != nil {
		if err == io.EOF {
			err = errors.New("empty file, want a header row")
		}
		return nil, &FormatError{Pos: Position{Line: 1}, Err: fmt.Errorf("csv header: %w", err)}
	}
	r.header = append([]string(nil), h...)
	for i, name := range r.header {
		name = strings.TrimSpace(strings.TrimPrefix(name, "\ufeff"))
		r.header[i] = name
		switch name {
		case r.opt.IDField:
			r.idCol = i
		case r.opt.VectorField:
			r.vecCol = i
		case r.opt.TextField:
			r.textCol = i
		}
	}
	if r.vecCol < 0 && r.textCol < 0 {
		return nil, &FormatError{Pos: Position{Line: 1}, Err: fmt.Errorf("csv header %q has neither a %q nor a %q column", r.header, r.opt.VectorField, r.opt.TextField)}
	}
	r.cr.FieldsPerRecord = len(r.header)
	return r, nil
}

func newCSV(src io.Reader) *csv.Reader {
	cr := csv.NewReader(bufio.NewReaderSize(src, 1<<20))
	cr.ReuseRecord = true
	return cr
}

func (r *csvReader) Close() error {
	if r.close != nil {
		return r.close()
	}
	return nil
}

func (r *csvReader) Resume(next Position) error {
	s, ok := r.src.(io.Seeker)
	if !ok {
		return errors.New("csv: input is not seekable, cannot resume")
	}
	if _, err := s.Seek(next.Offset, io.SeekStart); err != nil {
		return fmt.Errorf("csv: seek to byte offset %d: %w", next.Offset, err)
	}
	r.cr = newCSV(r.src)
	r.cr.FieldsPerRecord = len(r.header)
	r.lineBase, r.offBase, r.rec = next.Line-1, next.Offset, next.Record
	r.nextLine = next.Line
	return nil
}

func (r *csvReader) Tell() Position {
	line := r.nextLine
	if line == 0 {
		line = 2 // after the header
	}
	return Position{Record: r.rec, Line: line, Offset: r.offBase + r.cr.InputOffset()}
}

func (r *csvReader) Next() (Record, error) {
	if r.failed != nil {
		return Record{}, r.failed
	}
	start := r.offBase + r.cr.InputOffset()
	fields, err := r.cr.Read()
	if err == io.EOF {
		return Record{}, io.EOF
	}
	pos := Position{Record: r.rec, Offset: start}
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			pos.Line = r.lineBase + int64(pe.StartLine)
			r.nextLine = r.lineBase + int64(pe.Line) + 1
			r.rec++
			return Record{}, &RecordError{Pos: pos, Err: fmt.Errorf("csv: %w", pe.Err)}
		}
		r.failed = &FormatError{Pos: pos, Err: fmt.Errorf("csv: %w", err)}
		return Record{}, r.failed
	}
	line, _ := r.cr.FieldPos(0)
	pos.Line = r.lineBase + int64(line)
	last, _ := r.cr.FieldPos(len(fields) - 1)
	r.nextLine = r.lineBase + int64(last) + int64(strings.Count(fields[len(fields)-1], "\n")) + 1
	r.rec++
	rec := Record{Pos: pos}
	for i, f := range fields {
		switch i {
		case r.idCol:
			if f == "" {
				return Record{}, &RecordError{Pos: pos, Err: fmt.Errorf("csv: column %q: empty id", r.header[i])}
			}
			rec.ID = f
		case r.vecCol:
			if strings.TrimSpace(f) == "" {
				continue // text-only row
			}
			v, err := parseVectorText(f, &r.slab)
			if err != nil {
				return Record{}, &RecordError{Pos: pos, Err: fmt.Errorf("csv: column %q: %w", r.header[i], err)}
			}
			rec.Vector = v
		case r.textCol:
			rec.Text, rec.HasText = f, true
		default:
			rec.Fields = append(rec.Fields, Field{Name: r.header[i], Raw: appendJSONString(nil, f)})
		}
	}
	return rec, nil
}

// parseVectorText accepts "[1, 2, 3]", "1 2 3" and "1;2;3".
func parseVectorText(s string, sl *slab) ([]float32, error) {
	t := strings.TrimSpace(s)
	if strings.HasPrefix(t, "[") {
		return parseVector([]byte(t), sl)
	}
	parts := strings.FieldsFunc(t, func(c rune) bool { return c == ' ' || c == ';' || c == '\t' })
	v := sl.get(len(parts))
	for i, p := range parts {
		f, err := strconv.ParseFloat(p, 32)
		if err != nil {
			return nil, fmt.Errorf("element %d: %q is not a float32", i, p)
		}
		v[i] = float32(f)
	}
	return v, nil
}
