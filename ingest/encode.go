package ingest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"math"
	"strconv"
	"unicode/utf8"
)

// MaxIDBytes is OpenSearch's limit on _id length ("id [...] is too long,
// must be no longer than 512 bytes", IndexRequest.validate).
const MaxIDBytes = 512

// DocID returns the document _id: the input id when present, else the
// record number and a content hash, "000000001234-<11 base64url chars>".
//
// The hash covers the record number as well as the vector, text and fields,
// so two identical rows of one file stay two documents (the index count then
// equals the accepted count) while a re-run or a resume of the same file
// produces the same ids and overwrites instead of duplicating.
//
// The zero-padded record number in front makes ids readable (a rejected or
// missing document can be traced to its input record at a glance) and
// ascending with the input, which keeps the cluster's per-document id
// lookups local; on this project's 2-core reference node no throughput
// difference against a bare hash was measurable (issue 7 note).
func DocID(r *Record) string {
	if r.ID != "" {
		return r.ID
	}
	h := sha256.New()
	// The bytes hashed are the record number then every component's
	// little-endian float32 bits; they go through a stack buffer so that
	// the hash sees a few large writes instead of one call per component.
	var buf [1024]byte
	b := binary.LittleEndian.AppendUint64(buf[:0], uint64(r.Pos.Record))
	for _, x := range r.Vector {
		if len(b)+4 > len(buf) {
			h.Write(b)
			b = buf[:0]
		}
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	b = append(b, 0)
	h.Write(b)
	h.Write([]byte(r.Text))
	for _, f := range r.Fields {
		h.Write([]byte{0})
		h.Write([]byte(f.Name))
		h.Write([]byte{0})
		h.Write(f.Raw)
	}
	var sum [32]byte
	out := make([]byte, 0, 24)
	num := strconv.AppendInt(nil, r.Pos.Record, 10)
	for range 12 - len(num) {
		out = append(out, '0')
	}
	out = append(out, num...)
	out = append(out, '-')
	out = base64.RawURLEncoding.AppendEncode(out, h.Sum(sum[:0])[:8])
	return string(out)
}

// Encoder appends bulk "index" actions. The target index is in the request
// path (POST /{index}/_bulk), so action lines carry only the _id.
type Encoder struct {
	VectorField string // default "vector"
	TextField   string // default "text"
}

// AppendDoc appends the action and source lines for r to b. r.Vector must
// have passed the checks (no NaN/Inf: JSON cannot carry them).
func (e *Encoder) AppendDoc(b []byte, id string, r *Record) []byte {
	b = append(b, `{"index":{"_id":`...)
	b = appendJSONString(b, id)
	b = append(b, "}}\n{"...)
	first := true
	if r.Vector != nil {
		b = appendJSONString(b, orDefault(e.VectorField, "vector"))
		b = append(b, ':')
		b = AppendVector(b, r.Vector)
		first = false
	}
	if r.HasText {
		if !first {
			b = append(b, ',')
		}
		b = appendJSONString(b, orDefault(e.TextField, "text"))
		b = append(b, ':')
		b = appendJSONString(b, r.Text)
		first = false
	}
	for _, f := range r.Fields {
		if !first {
			b = append(b, ',')
		}
		b = appendJSONString(b, f.Name)
		b = append(b, ':')
		b = append(b, f.Raw...)
		first = false
	}
	return append(b, "}\n"...)
}

// AppendVector writes v as a JSON array of the shortest decimals that parse
// back to the same float32s (appendFloat32, strconv's 'g' with precision -1
// and bitSize 32), so the cluster stores exactly the input bits.
func AppendVector(b []byte, v []float32) []byte {
	b = append(b, '[')
	for i, x := range v {
		if i > 0 {
			b = append(b, ',')
		}
		if x > -1e7 && x < 1e7 && x == float32(int32(x)) && math.Float32bits(x) != 1<<31 {
			b = strconv.AppendInt(b, int64(x), 10) // integers (byte vectors, 0) fast
			continue
		}
		b = appendFloat32(b, x)
	}
	return append(b, ']')
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string literal; invalid UTF-8 becomes
// U+FFFD as encoding/json does.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, `\u202`...)
			b = append(b, hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
