package ingest

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/x448/float16"
)

// npy format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
// magic "\x93NUMPY", major, minor, header length (uint16 LE in 1.0, uint32 LE
// in 2.0/3.0), then a Python dict literal with descr, fortran_order, shape,
// padded so the data starts on a 64-byte boundary.

type npyReader struct {
	src    io.Reader
	br     *bufio.Reader
	close  func() error
	dtype  string
	csize  int
	rows   int64
	dim    int
	data   int64 // byte offset of the first row
	rec    int64
	buf    []byte
	slab   slab
	failed error
}

var (
	npyDescr   = regexp.MustCompile(`'descr'\s*:\s*'([^']*)'`)
	npyFortran = regexp.MustCompile(`'fortran_order'\s*:\s*(True|False)`)
	npyShape   = regexp.MustCompile(`'shape'\s*:\s*\(([^)]*)\)`)
)

// NewNpyReader streams the rows of a 2-D C-order .npy array of float32,
// float16, uint8 or int8 (and float64, converted). src may be an *os.File to
// allow Resume.
func NewNpyReader(src io.Reader) (Reader, error) {
	r := &npyReader{src: src, br: bufio.NewReaderSize(src, 1<<20)}
	if c, ok := src.(io.Closer); ok {
		r.close = c.Close
	}
	if err := r.header(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *npyReader) header() error {
	bad := func(off int64, format string, args ...any) error {
		return &FormatError{Pos: Position{Record: 0, Offset: off}, Err: fmt.Errorf("npy header: "+format, args...)}
	}
	var pre [8]byte
	if _, err := io.ReadFull(r.br, pre[:]); err != nil {
		return bad(0, "file shorter than the 8-byte preamble: %w", err)
	}
	if string(pre[:6]) != "\x93NUMPY" {
		return bad(0, "missing magic \\x93NUMPY (found %q)", pre[:6])
	}
	var hlen int
	off := int64(8)
	switch pre[6] {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(r.br, b[:]); err != nil {
			return bad(off, "truncated header length: %w", err)
		}
		hlen = int(binary.LittleEndian.Uint16(b[:]))
		off += 2
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(r.br, b[:]); err != nil {
			return bad(off, "truncated header length: %w", err)
		}
		hlen = int(binary.LittleEndian.Uint32(b[:]))
		off += 4
	default:
		return bad(6, "unsupported format version %d.%d", pre[6], pre[7])
	}
	if hlen > 1<<20 {
		return bad(off, "header length %d is implausible", hlen)
	}
	h := make([]byte, hlen)
	if n, err := io.ReadFull(r.br, h); err != nil {
		return bad(off, "truncated header dict (%d of %d bytes): %w", n, hlen, err)
	}
	r.data = off + int64(hlen)
	m := npyDescr.FindSubmatch(h)
	if m == nil {
		return bad(off, "no 'descr' in header %q", h)
	}
	r.dtype = string(m[1])
	switch r.dtype {
	case "<f4":
		r.csize = 4
	case "<f2":
		r.csize = 2
	case "|u1", "<u1", "|i1", "<i1":
		r.csize = 1
	case "<f8":
		r.csize = 8
	default:
		return bad(off, "unsupported dtype %q (want <f4, <f2, |u1, |i1 or <f8, little-endian)", r.dtype)
	}
	m = npyFortran.FindSubmatch(h)
	if m == nil {
		return bad(off, "no 'fortran_order' in header %q", h)
	}
	if string(m[1]) == "True" {
		return bad(off, "fortran_order arrays are not supported (rows would not be contiguous); save with np.ascontiguousarray")
	}
	m = npyShape.FindSubmatch(h)
	if m == nil {
		return bad(off, "no 'shape' in header %q", h)
	}
	var dims []int64
	for _, p := range strings.Split(string(m[1]), ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		v, err := strconv.ParseInt(strings.TrimSuffix(p, "L"), 10, 64)
		if err != nil || v < 0 {
			return bad(off, "bad shape entry %q", p)
		}
		dims = append(dims, v)
	}
	if len(dims) != 2 {
		return bad(off, "shape %v: want a 2-D array (rows, dimension)", dims)
	}
	if dims[1] == 0 || dims[1] > MaxDimension*8 {
		return bad(off, "dimension %d out of range 1..%d", dims[1], MaxDimension*8)
	}
	r.rows, r.dim = dims[0], int(dims[1])
	return nil
}

func (r *npyReader) Close() error {
	if r.close != nil {
		return r.close()
	}
	return nil
}

// Dimension is the row length from the header.
func (r *npyReader) Dimension() int { return r.dim }

func (r *npyReader) Next() (Record, error) {
	if r.failed != nil {
		return Record{}, r.failed
	}
	if r.rec >= r.rows {
		// Trailing bytes after the declared rows mean the header lies.
		if _, err := r.br.Peek(1); err == nil {
			r.failed = &FormatError{Pos: Position{Record: r.rec, Offset: r.offset()}, Err: errors.New("npy: bytes after the last row declared by the header shape")}
			return Record{}, r.failed
		}
		return Record{}, io.EOF
	}
	size := r.dim * r.csize
	if cap(r.buf) < size {
		r.buf = make([]byte, size)
	}
	b := r.buf[:size]
	if n, err := io.ReadFull(r.br, b); err != nil {
		r.failed = &FormatError{Pos: Position{Record: r.rec, Offset: r.offset()},
			Err: fmt.Errorf("npy: truncated row (%d of %d bytes; header declares %d rows): %w", n, size, r.rows, io.ErrUnexpectedEOF)}
		return Record{}, r.failed
	}
	v := r.slab.get(r.dim)
	switch r.dtype {
	case "<f4":
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	case "<f2":
		for i := range v {
			v[i] = float16.Frombits(binary.LittleEndian.Uint16(b[2*i:])).Float32()
		}
	case "|u1", "<u1":
		for i := range v {
			v[i] = float32(b[i])
		}
	case "|i1", "<i1":
		for i := range v {
			v[i] = float32(int8(b[i]))
		}
	case "<f8":
		for i := range v {
			v[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])))
		}
	}
	rec := Record{Pos: Position{Record: r.rec, Offset: r.offset()}, Vector: v}
	r.rec++
	return rec, nil
}

func (r *npyReader) offset() int64 { return r.data + r.rec*int64(r.dim*r.csize) }

func (r *npyReader) Resume(next Position) error {
	s, ok := r.src.(io.Seeker)
	if !ok {
		return errors.New("npy: input is not seekable, cannot resume")
	}
	if next.Record < 0 || next.Record > r.rows {
		return fmt.Errorf("npy: resume record %d outside 0..%d", next.Record, r.rows)
	}
	r.rec = next.Record
	if _, err := s.Seek(r.offset(), io.SeekStart); err != nil {
		return fmt.Errorf("npy: seek to byte offset %d: %w", r.offset(), err)
	}
	r.br.Reset(r.src)
	return nil
}

// WriteNpyHeader writes a version 1.0 header for a C-order 2-D array; used
// by tests and fixture generators.
func WriteNpyHeader(w io.Writer, descr string, rows, dim int) error {
	d := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%d, %d), }", descr, rows, dim)
	total := 10 + len(d) + 1
	pad := (64 - total%64) % 64
	var b bytes.Buffer
	b.WriteString("\x93NUMPY\x01\x00")
	binary.Write(&b, binary.LittleEndian, uint16(len(d)+pad+1))
	b.WriteString(d)
	b.WriteString(strings.Repeat(" ", pad))
	b.WriteByte('\n')
	_, err := w.Write(b.Bytes())
	return err
}

func (r *npyReader) Tell() Position { return Position{Record: r.rec, Offset: r.offset()} }
