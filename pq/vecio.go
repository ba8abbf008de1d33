package pq

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// A small reader for the two vector files `knnbridge train` accepts, kept
// here (not in ingest/) so that pq depends on nothing but native. .fvecs is
// the TEXMEX format (per vector: int32 d, then d float32); .npy is NumPy's
// format version 1-3 holding a C-ordered 2-D little-endian float32 array.

// ReadVectorsFile reads .fvecs or .npy (by extension) and returns the
// row-major vectors and their dimension. limit > 0 stops after that many.
func ReadVectorsFile(path string, limit int) ([]float32, int, error) {
	if !strings.HasSuffix(path, ".fvecs") && !strings.HasSuffix(path, ".npy") {
		return nil, 0, fmt.Errorf("pq: %s: unknown vector file type (want .fvecs or .npy)", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("pq: %w", err)
	}
	defer f.Close()
	var x []float32
	var d int
	switch {
	case strings.HasSuffix(path, ".fvecs"):
		x, d, err = ReadFvecs(f, limit)
	case strings.HasSuffix(path, ".npy"):
		x, d, err = ReadNpy(f, limit)
	default:
		return nil, 0, fmt.Errorf("pq: %s: unknown vector file type (want .fvecs or .npy)", path)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	return x, d, nil
}

// ReadFvecs reads TEXMEX .fvecs records until EOF (or limit vectors).
func ReadFvecs(r io.Reader, limit int) ([]float32, int, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	var x []float32
	d := -1
	var off int64
	var hdr [4]byte
	for i := 0; limit <= 0 || i < limit; i++ {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, 0, fmt.Errorf("fvecs: vector %d at byte offset %d: truncated dimension field: %w", i, off, err)
		}
		vd := int(int32(binary.LittleEndian.Uint32(hdr[:])))
		if vd <= 0 || vd > 1<<20 {
			return nil, 0, fmt.Errorf("fvecs: vector %d at byte offset %d: implausible dimension %d", i, off, vd)
		}
		if d < 0 {
			d = vd
		} else if vd != d {
			return nil, 0, fmt.Errorf("fvecs: vector %d at byte offset %d: dimension %d differs from the first vector's %d", i, off, vd, d)
		}
		buf := make([]byte, 4*d)
		if _, err := io.ReadFull(br, buf); err != nil {
			return nil, 0, fmt.Errorf("fvecs: vector %d at byte offset %d: truncated (want %d floats): %w", i, off, d, err)
		}
		for j := 0; j < d; j++ {
			x = append(x, math.Float32frombits(binary.LittleEndian.Uint32(buf[4*j:])))
		}
		off += int64(4 + 4*d)
	}
	if d < 0 {
		return nil, 0, fmt.Errorf("fvecs: no vectors")
	}
	return x, d, nil
}

// WriteFvecs writes row-major vectors as .fvecs.
func WriteFvecs(w io.Writer, x []float32, d int) error {
	bw := bufio.NewWriter(w)
	buf := make([]byte, 4+4*d)
	for i := 0; i+d <= len(x); i += d {
		binary.LittleEndian.PutUint32(buf, uint32(d))
		for j, v := range x[i : i+d] {
			binary.LittleEndian.PutUint32(buf[4+4*j:], math.Float32bits(v))
		}
		if _, err := bw.Write(buf); err != nil {
			return err
		}
	}
	return bw.Flush()
}

var (
	npyDescr   = regexp.MustCompile(`'descr'\s*:\s*'([^']*)'`)
	npyFortran = regexp.MustCompile(`'fortran_order'\s*:\s*(True|False)`)
	npyShape   = regexp.MustCompile(`'shape'\s*:\s*\(([^)]*)\)`)
)

// ReadNpy reads a 2-D float32 .npy array.
func ReadNpy(r io.Reader, limit int) ([]float32, int, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	var magic [8]byte
	if _, err := io.ReadFull(br, magic[:]); err != nil {
		return nil, 0, fmt.Errorf("npy: truncated magic at byte offset 0: %w", err)
	}
	if string(magic[:6]) != "\x93NUMPY" {
		return nil, 0, fmt.Errorf("npy: not a .npy file (bad magic at byte offset 0)")
	}
	var hlen int
	switch magic[6] {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return nil, 0, fmt.Errorf("npy: truncated header length at byte offset 8: %w", err)
		}
		hlen = int(binary.LittleEndian.Uint16(b[:]))
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return nil, 0, fmt.Errorf("npy: truncated header length at byte offset 8: %w", err)
		}
		hlen = int(binary.LittleEndian.Uint32(b[:]))
	default:
		return nil, 0, fmt.Errorf("npy: unsupported format version %d", magic[6])
	}
	hdr := make([]byte, hlen)
	if _, err := io.ReadFull(br, hdr); err != nil {
		return nil, 0, fmt.Errorf("npy: truncated header: %w", err)
	}
	h := string(hdr)
	m := npyDescr.FindStringSubmatch(h)
	if m == nil || (m[1] != "<f4" && m[1] != "=f4") {
		got := "missing"
		if m != nil {
			got = m[1]
		}
		return nil, 0, fmt.Errorf("npy: dtype %s is not supported: convert to little-endian float32 ('<f4')", got)
	}
	if fm := npyFortran.FindStringSubmatch(h); fm != nil && fm[1] == "True" {
		return nil, 0, fmt.Errorf("npy: Fortran-ordered arrays are not supported: save with np.ascontiguousarray")
	}
	sm := npyShape.FindStringSubmatch(h)
	if sm == nil {
		return nil, 0, fmt.Errorf("npy: header has no shape")
	}
	var dims []int
	for _, p := range strings.Split(sm[1], ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		v, err := strconv.Atoi(p)
		if err != nil {
			return nil, 0, fmt.Errorf("npy: bad shape %q", sm[1])
		}
		dims = append(dims, v)
	}
	if len(dims) != 2 || dims[1] <= 0 {
		return nil, 0, fmt.Errorf("npy: shape (%s) is not a 2-D array of vectors", sm[1])
	}
	n, d := dims[0], dims[1]
	if limit > 0 && n > limit {
		n = limit
	}
	buf := make([]byte, 4*n*d)
	dataOff := 8 + 2 + hlen
	if magic[6] != 1 {
		dataOff += 2
	}
	if got, err := io.ReadFull(br, buf); err != nil {
		return nil, 0, fmt.Errorf("npy: truncated data: vector %d at byte offset %d: %w", got/(4*d), dataOff+got, err)
	}
	x := make([]float32, n*d)
	for i := range x {
		x[i] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:]))
	}
	return x, d, nil
}
