package ingest

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// VecsKind selects one of the ANN-benchmark formats (http://corpus-texmex.irisa.fr/):
// every record is a little-endian int32 dimension d followed by d components,
// float32 (fvecs), int32 (ivecs) or uint8 (bvecs).
type VecsKind int

const (
	Fvecs VecsKind = iota
	Ivecs
	Bvecs
)

func (k VecsKind) String() string {
	switch k {
	case Fvecs:
		return "fvecs"
	case Ivecs:
		return "ivecs"
	default:
		return "bvecs"
	}
}

func (k VecsKind) compSize() int {
	if k == Bvecs {
		return 1
	}
	return 4
}

// MaxDimension bounds the dimension a reader accepts before allocating: the
// k-NN plugin caps knn_vector at 16,000 (binary counts bits, so 16,000 bits);
// a larger length prefix is corruption, not data.
const MaxDimension = 16000

type vecsReader struct {
	kind   VecsKind
	src    io.Reader
	br     *bufio.Reader
	close  func() error
	dim    int
	rec    int64
	off    int64
	buf    []byte
	slab   slab
	failed error
}

// NewVecsReader streams an fvecs/ivecs/bvecs input. All records must share
// the dimension of the first one. src may be an io.Seeker (an *os.File) to
// allow Resume.
func NewVecsReader(src io.Reader, kind VecsKind) Reader {
	r := &vecsReader{kind: kind, src: src, br: bufio.NewReaderSize(src, 1<<20)}
	if c, ok := src.(io.Closer); ok {
		r.close = c.Close
	}
	return r
}

func (r *vecsReader) Close() error {
	if r.close != nil {
		return r.close()
	}
	return nil
}

func (r *vecsReader) fail(err error) (Record, error) {
	r.failed = &FormatError{Pos: Position{Record: r.rec, Offset: r.off}, Err: fmt.Errorf("%s: %w", r.kind, err)}
	return Record{}, r.failed
}

func (r *vecsReader) Next() (Record, error) {
	if r.failed != nil {
		return Record{}, r.failed
	}
	var hdr [4]byte
	n, err := io.ReadFull(r.br, hdr[:])
	if err == io.EOF {
		return Record{}, io.EOF
	}
	if err != nil {
		return r.fail(fmt.Errorf("truncated dimension prefix (%d of 4 bytes): %w", n, io.ErrUnexpectedEOF))
	}
	d := int(int32(binary.LittleEndian.Uint32(hdr[:])))
	if d <= 0 || d > MaxDimension*8 {
		return r.fail(fmt.Errorf("dimension prefix %d out of range 1..%d", d, MaxDimension*8))
	}
	if r.dim == 0 {
		r.dim = d
	} else if d != r.dim {
		return r.fail(fmt.Errorf("dimension prefix %d differs from the first record's %d", d, r.dim))
	}
	size := d * r.kind.compSize()
	if cap(r.buf) < size {
		r.buf = make([]byte, size)
	}
	b := r.buf[:size]
	if n, err := io.ReadFull(r.br, b); err != nil {
		return r.fail(fmt.Errorf("truncated record: %d of %d component bytes: %w", n, size, io.ErrUnexpectedEOF))
	}
	v := r.slab.get(d)
	switch r.kind {
	case Fvecs:
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	case Ivecs:
		for i := range v {
			v[i] = float32(int32(binary.LittleEndian.Uint32(b[4*i:])))
		}
	case Bvecs:
		for i := range v {
			v[i] = float32(b[i])
		}
	}
	rec := Record{Pos: Position{Record: r.rec, Offset: r.off}, Vector: v}
	r.rec++
	r.off += int64(4 + size)
	return rec, nil
}

// Resume seeks to next.Offset, which must be a record boundary produced by
// this reader (checkpoints store it).
func (r *vecsReader) Resume(next Position) error {
	s, ok := r.src.(io.Seeker)
	if !ok {
		return errors.New("vecs: input is not seekable, cannot resume")
	}
	if _, err := s.Seek(next.Offset, io.SeekStart); err != nil {
		return fmt.Errorf("vecs: seek to byte offset %d: %w", next.Offset, err)
	}
	r.br.Reset(r.src)
	r.rec, r.off = next.Record, next.Offset
	return nil
}

// slab hands out vectors carved from larger allocations so that a reader
// does one allocation per few hundred records instead of one per record;
// the records still own disjoint memory and can outlive the next call.
type slab struct{ buf []float32 }

func (s *slab) get(d int) []float32 {
	if len(s.buf) < d {
		n := 64 * 1024 / 4
		if n < 4*d {
			n = 4 * d
		}
		s.buf = make([]float32, n)
	}
	v := s.buf[:d:d]
	s.buf = s.buf[d:]
	return v
}

func (r *vecsReader) Tell() Position { return Position{Record: r.rec, Offset: r.off} }
