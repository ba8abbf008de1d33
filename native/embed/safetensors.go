package embed

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"

	"github.com/x448/float16"
)

// tensor is one float32 tensor read from a safetensors file.
type tensor struct {
	shape []int
	data  []float32
}

// safetensorsFile holds the parsed header and raw bytes of a .safetensors
// file. Format (huggingface/safetensors README): u64 little-endian header
// length N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin,
// end]}, "__metadata__": {...}}, then the byte buffer the offsets index.
type safetensorsFile struct {
	path    string
	header  map[string]stEntry
	data    []byte // the byte buffer after the header
	dataOff int64  // file offset of data[0], for error messages
}

type stEntry struct {
	DType   string   `json:"dtype"`
	Shape   []int    `json:"shape"`
	Offsets [2]int64 `json:"data_offsets"`
}

func openSafetensors(path string) (*safetensorsFile, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("model weights: %w", err)
	}
	if len(raw) < 8 {
		return nil, fmt.Errorf("%s: corrupt safetensors file: %d bytes, shorter than the 8-byte header length", path, len(raw))
	}
	n := binary.LittleEndian.Uint64(raw[:8])
	if n > uint64(len(raw)-8) || n > 100<<20 {
		return nil, fmt.Errorf("%s: corrupt safetensors file: header length %d at offset 0 exceeds the file size %d", path, n, len(raw))
	}
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(raw[8:8+n], &hdr); err != nil {
		return nil, fmt.Errorf("%s: corrupt safetensors header (bytes 8..%d): %w", path, 8+n, err)
	}
	f := &safetensorsFile{path: path, header: map[string]stEntry{}, data: raw[8+n:], dataOff: int64(8 + n)}
	for name, msg := range hdr {
		if name == "__metadata__" {
			continue
		}
		var e stEntry
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, fmt.Errorf("%s: safetensors header entry %q: %w", path, name, err)
		}
		b, end := e.Offsets[0], e.Offsets[1]
		if b < 0 || end < b || end > int64(len(f.data)) {
			return nil, fmt.Errorf("%s: tensor %q: data_offsets [%d, %d] outside the %d-byte data buffer (file truncated?)", path, name, b, end, len(f.data))
		}
		f.header[name] = e
	}
	return f, nil
}

func (f *safetensorsFile) names() []string {
	out := make([]string, 0, len(f.header))
	for k := range f.header {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// get converts the named tensor to float32 (F32, F16 and BF16 are read) and
// checks its shape.
func (f *safetensorsFile) get(name string, shape ...int) (*tensor, error) {
	e, ok := f.header[name]
	if !ok {
		return nil, fmt.Errorf("%s: tensor %q is missing", f.path, name)
	}
	if !sameShape(e.Shape, shape) {
		return nil, fmt.Errorf("%s: tensor %q has shape %v, config.json implies %v", f.path, name, e.Shape, shape)
	}
	count := 1
	for _, d := range e.Shape {
		count *= d
	}
	buf := f.data[e.Offsets[0]:e.Offsets[1]]
	var size int
	switch e.DType {
	case "F32":
		size = 4
	case "F16", "BF16":
		size = 2
	default:
		return nil, fmt.Errorf("%s: tensor %q has dtype %s; only F32, F16 and BF16 weights are supported", f.path, name, e.DType)
	}
	if len(buf) != count*size {
		return nil, fmt.Errorf("%s: tensor %q: %d bytes at file offset %d, want %d for shape %v %s", f.path, name, len(buf), f.dataOff+e.Offsets[0], count*size, e.Shape, e.DType)
	}
	out := make([]float32, count)
	switch e.DType {
	case "F32":
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:]))
		}
	case "F16":
		for i := range out {
			out[i] = float16.Frombits(binary.LittleEndian.Uint16(buf[2*i:])).Float32()
		}
	case "BF16":
		for i := range out {
			out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(buf[2*i:])) << 16)
		}
	}
	for i, v := range out {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("%s: tensor %q element %d is %v (corrupt weights)", f.path, name, i, v)
		}
	}
	return &tensor{shape: e.Shape, data: out}, nil
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
