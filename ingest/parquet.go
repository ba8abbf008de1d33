package ingest

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"
)

type pqColumn struct {
	name     string
	role     int // 0 field, 1 id, 2 vector, 3 text
	repeated bool
}

const (
	roleField = iota
	roleID
	roleVector
	roleText
)

type parquetReader struct {
	opt    Options
	file   *parquet.File
	pr     *parquet.Reader
	close  func() error
	cols   []pqColumn
	rows   []parquet.Row
	n, i   int
	rec    int64
	failed error
	slab   slab
	vals   [][]parquet.Value
}

// NewParquetReader streams rows of a Parquet file. The vector column may be a
// list<float|double> (pyarrow also writes fixed_size_list this way) or a
// repeated float column; scalar columns become document fields, repeated
// scalar columns become JSON arrays. Closer, if not nil, is called by Close.
func NewParquetReader(ra io.ReaderAt, size int64, closer io.Closer, opt Options) (rd Reader, err error) {
	defer func() {
		if p := recover(); p != nil {
			rd, err = nil, &FormatError{Pos: Position{Offset: -1}, Err: fmt.Errorf("parquet: corrupt file: %v", p)}
		}
	}()
	r := &parquetReader{opt: opt.withDefaults()}
	if closer != nil {
		r.close = closer.Close
	}
	f, err := parquet.OpenFile(ra, size)
	if err != nil {
		return nil, &FormatError{Pos: Position{Offset: -1}, Err: fmt.Errorf("parquet: open: %w", err)}
	}
	r.file = f
	schema := f.Schema()
	found := false
	for _, path := range schema.Columns() {
		leaf, _ := schema.Lookup(path...)
		c := pqColumn{name: strings.Join(path, "."), repeated: leaf.MaxRepetitionLevel > 0}
		switch path[0] {
		case r.opt.IDField:
			c.role = roleID
		case r.opt.VectorField:
			c.role = roleVector
			found = true
		case r.opt.TextField:
			c.role = roleText
			found = true
		}
		if c.role == roleField && len(path) >= 3 && (path[len(path)-2] == "list" || path[len(path)-2] == "bag") {
			c.name = strings.Join(path[:len(path)-2], ".") // list<...>: name the field after the outer group
		}
		r.cols = append(r.cols, c)
	}
	if !found {
		return nil, &FormatError{Pos: Position{Offset: -1}, Err: fmt.Errorf("parquet: schema has neither a %q nor a %q column (columns %v)", r.opt.VectorField, r.opt.TextField, schema.Columns())}
	}
	r.pr = parquet.NewReader(f)
	r.rows = make([]parquet.Row, 64)
	r.vals = make([][]parquet.Value, len(r.cols))
	return r, nil
}

func (r *parquetReader) Close() error {
	if r.pr != nil {
		r.pr.Close()
	}
	if r.close != nil {
		return r.close()
	}
	return nil
}

func (r *parquetReader) Resume(next Position) error {
	if err := r.pr.SeekToRow(next.Record); err != nil {
		return fmt.Errorf("parquet: seek to row %d: %w", next.Record, err)
	}
	r.rec, r.n, r.i = next.Record, 0, 0
	return nil
}

func (r *parquetReader) Next() (rec Record, err error) {
	if r.failed != nil {
		return Record{}, r.failed
	}
	defer func() {
		if p := recover(); p != nil {
			r.failed = &FormatError{Pos: Position{Record: r.rec, Offset: -1}, Err: fmt.Errorf("parquet: corrupt data: %v", p)}
			rec, err = Record{}, r.failed
		}
	}()
	if r.i >= r.n {
		n, err := r.pr.ReadRows(r.rows)
		if n == 0 {
			if err == nil || errors.Is(err, io.EOF) {
				return Record{}, io.EOF
			}
			r.failed = &FormatError{Pos: Position{Record: r.rec, Offset: -1}, Err: fmt.Errorf("parquet: read row: %w", err)}
			return Record{}, r.failed
		}
		r.n, r.i = n, 0
	}
	row := r.rows[r.i]
	r.i++
	pos := Position{Record: r.rec, Offset: -1}
	r.rec++
	for k := range r.vals {
		r.vals[k] = r.vals[k][:0]
	}
	for _, v := range row {
		c := v.Column()
		if c < 0 || c >= len(r.vals) {
			continue
		}
		r.vals[c] = append(r.vals[c], v)
	}
	rec = Record{Pos: pos}
	for c, col := range r.cols {
		vs := r.vals[c]
		switch col.role {
		case roleVector:
			if len(vs) == 0 || (len(vs) == 1 && vs[0].IsNull()) {
				continue
			}
			vec := r.slab.get(len(vs))
			for k, v := range vs {
				switch v.Kind() {
				case parquet.Float:
					vec[k] = v.Float()
				case parquet.Double:
					vec[k] = float32(v.Double())
				case parquet.Int32:
					vec[k] = float32(v.Int32())
				case parquet.Int64:
					vec[k] = float32(v.Int64())
				default:
					if v.IsNull() {
						return Record{}, &RecordError{Pos: pos, Err: fmt.Errorf("parquet: column %q: element %d is null", col.name, k)}
					}
					return Record{}, &RecordError{Pos: pos, Err: fmt.Errorf("parquet: column %q: element %d has type %v, want float", col.name, k, v.Kind())}
				}
			}
			rec.Vector = vec
		case roleID:
			if len(vs) != 1 || vs[0].IsNull() {
				return Record{}, &RecordError{Pos: pos, Err: fmt.Errorf("parquet: column %q: missing id", col.name)}
			}
			rec.ID = scalarText(vs[0])
		case roleText:
			if len(vs) == 1 && !vs[0].IsNull() {
				rec.Text, rec.HasText = string(vs[0].ByteArray()), true
			}
		default:
			if col.repeated {
				b := []byte{'['}
				for k, v := range vs {
					if v.IsNull() && len(vs) == 1 {
						break
					}
					if k > 0 {
						b = append(b, ',')
					}
					b = appendParquetValue(b, v)
				}
				rec.Fields = append(rec.Fields, Field{Name: col.name, Raw: append(b, ']')})
			} else if len(vs) == 1 && !vs[0].IsNull() {
				rec.Fields = append(rec.Fields, Field{Name: col.name, Raw: appendParquetValue(nil, vs[0])})
			}
		}
	}
	return rec, nil
}

func scalarText(v parquet.Value) string {
	switch v.Kind() {
	case parquet.Int32:
		return strconv.FormatInt(int64(v.Int32()), 10)
	case parquet.Int64:
		return strconv.FormatInt(v.Int64(), 10)
	case parquet.ByteArray, parquet.FixedLenByteArray:
		return string(v.ByteArray())
	default:
		return v.String()
	}
}

func appendParquetValue(b []byte, v parquet.Value) []byte {
	if v.IsNull() {
		return append(b, "null"...)
	}
	switch v.Kind() {
	case parquet.Boolean:
		return strconv.AppendBool(b, v.Boolean())
	case parquet.Int32:
		return strconv.AppendInt(b, int64(v.Int32()), 10)
	case parquet.Int64:
		return strconv.AppendInt(b, v.Int64(), 10)
	case parquet.Float:
		f := v.Float()
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			return append(b, "null"...)
		}
		return strconv.AppendFloat(b, float64(f), 'g', -1, 32)
	case parquet.Double:
		f := v.Double()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return append(b, "null"...)
		}
		return strconv.AppendFloat(b, f, 'g', -1, 64)
	case parquet.ByteArray, parquet.FixedLenByteArray:
		ba := v.ByteArray()
		if utf8.Valid(ba) {
			return appendJSONString(b, string(ba))
		}
		return appendJSONString(b, fmt.Sprintf("%x", ba))
	default:
		return appendJSONString(b, v.String())
	}
}

func (r *parquetReader) Tell() Position { return Position{Record: r.rec, Offset: -1} }
