package queries

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// A hybrid search spends most of its client time decoding the two hit
// lists (encoding/json reads a 23 KB answer at ~75 MB/s, about 0.24 ms of
// CPU). scanSearch and scanMSearch read the parts Parse*Response needs in
// one pass, several times faster, and give up (ok false) on anything
// outside the shape OpenSearch sends: an item error, a null where an
// object or a score belongs, a duplicate or case-folded key, an escaped or
// non-UTF-8 id, a number that is not an int where encoding/json wants one,
// malformed JSON. The caller then decodes with encoding/json, so errors
// and odd inputs behave exactly as before. _source is not copied: it
// aliases the response body.

type jscan struct {
	b []byte
	i int
	// lastIndex is reused for hits of the same index: one string, not one
	// allocation per hit.
	lastIndex string
}

// maxScanDepth is encoding/json's nesting limit.
const maxScanDepth = 10000

func (s *jscan) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *jscan) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *jscan) eat(c byte) bool {
	if s.peek() == c {
		s.i++
		return true
	}
	return false
}

// str scans a string and returns what is between the quotes and whether
// it holds escapes; ok false on malformed input.
func (s *jscan) str() (raw []byte, esc, ok bool) {
	if !s.eat('"') {
		return nil, false, false
	}
	start := s.i
	for s.i < len(s.b) {
		// Plain bytes first: most of a response is text inside strings.
		for s.i < len(s.b) && !strSpecial[s.b[s.i]] {
			s.i++
		}
		if s.i >= len(s.b) {
			break
		}
		switch c := s.b[s.i]; {
		case c == '"':
			raw = s.b[start:s.i]
			s.i++
			return raw, esc, true
		case c == '\\':
			esc = true
			s.i++
			if s.i >= len(s.b) {
				return nil, false, false
			}
			switch s.b[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				if s.i+4 >= len(s.b) {
					return nil, false, false
				}
				for k := 1; k <= 4; k++ {
					if !isHex(s.b[s.i+k]) {
						return nil, false, false
					}
				}
				s.i += 5
			default:
				return nil, false, false
			}
		default: // a control character
			return nil, false, false
		}
	}
	return nil, false, false
}

// strSpecial marks the bytes that end a run of plain string content.
var strSpecial = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// plainString scans a string without escapes and with valid UTF-8.
func (s *jscan) plainString() (string, bool) {
	raw, esc, ok := s.str()
	if !ok || esc || !utf8.Valid(raw) {
		return "", false
	}
	return string(raw), true
}

// number scans a JSON number and returns its text.
func (s *jscan) number() ([]byte, bool) {
	s.ws()
	start := s.i
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(s.b) && s.b[s.i] == '0':
		s.i++
	case s.i < len(s.b) && '1' <= s.b[s.i] && s.b[s.i] <= '9':
		for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
			s.i++
		}
	default:
		return nil, false
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if !s.digits() {
			return nil, false
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if !s.digits() {
			return nil, false
		}
	}
	return s.b[start:s.i], true
}

func (s *jscan) digits() bool {
	start := s.i
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i > start
}

func (s *jscan) int() (int, bool) {
	t, ok := s.number()
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(string(t))
	return n, err == nil
}

func (s *jscan) literal(w string) bool {
	if len(s.b)-s.i >= len(w) && string(s.b[s.i:s.i+len(w)]) == w {
		s.i += len(w)
		return true
	}
	return false
}

func (s *jscan) null() bool {
	s.ws()
	return s.literal("null")
}

// skip scans any value.
func (s *jscan) skip(depth int) bool {
	if depth > maxScanDepth {
		return false
	}
	switch s.peek() {
	case '"':
		_, _, ok := s.str()
		return ok
	case '{':
		s.i++
		if s.eat('}') {
			return true
		}
		for {
			if _, _, ok := s.str(); !ok || !s.eat(':') || !s.skip(depth+1) {
				return false
			}
			if s.eat(',') {
				continue
			}
			return s.eat('}')
		}
	case '[':
		s.i++
		if s.eat(']') {
			return true
		}
		for {
			if !s.skip(depth + 1) {
				return false
			}
			if s.eat(',') {
				continue
			}
			return s.eat(']')
		}
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	default:
		_, ok := s.number()
		return ok
	}
}

// object calls field for each key of an object; the key is decoded only
// when it has escapes. A key that matches none of known exactly but does
// case-insensitively (encoding/json would take it) fails the scan, and so
// does a repeated known key (encoding/json would merge the two).
func (s *jscan) object(depth int, known []string, field func(k int) bool) bool {
	if depth > maxScanDepth || !s.eat('{') {
		return false
	}
	if s.eat('}') {
		return true
	}
	var seen uint32
	for {
		raw, esc, ok := s.str()
		if !ok || !s.eat(':') {
			return false
		}
		if esc {
			var k string
			if json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &k) != nil {
				return false
			}
			raw = []byte(k)
		}
		k := -1
		for j, name := range known {
			if string(raw) == name {
				k = j
				break
			}
			if bytes.EqualFold(raw, []byte(name)) {
				return false
			}
		}
		if k >= 0 {
			if seen&(1<<k) != 0 {
				return false
			}
			seen |= 1 << k
			if !field(k) {
				return false
			}
		} else if !s.skip(depth + 1) {
			return false
		}
		if s.eat(',') {
			continue
		}
		return s.eat('}')
	}
}

var (
	searchKeys = []string{"took", "_shards", "hits", "status", "error"}
	shardKeys  = []string{"failed"}
	hitsKeys   = []string{"total", "hits"}
	totalKeys  = []string{"value", "relation"}
	hitKeys    = []string{"_index", "_id", "_score", "_source"}
)

// searchObj scans one search answer into r.
func (s *jscan) searchObj(depth int, r *rawSearch, scores *[]float64) bool {
	return s.object(depth, searchKeys, func(k int) bool {
		var ok bool
		switch k {
		case 0:
			r.Took, ok = s.int()
		case 1:
			ok = s.object(depth+1, shardKeys, func(int) bool {
				var ok bool
				r.Shards.Failed, ok = s.int()
				return ok
			})
		case 2:
			ok = s.object(depth+1, hitsKeys, func(k int) bool {
				if k == 0 {
					if s.peek() == 'n' {
						return false
					}
					r.Hits.Total = &struct {
						Value    int    `json:"value"`
						Relation string `json:"relation"`
					}{}
					return s.object(depth+2, totalKeys, func(k int) bool {
						var ok bool
						if k == 0 {
							r.Hits.Total.Value, ok = s.int()
						} else {
							r.Hits.Total.Relation, ok = s.plainString()
						}
						return ok
					})
				}
				return s.hitArray(depth+2, r, scores)
			})
		case 3:
			r.Status, ok = s.int()
		case 4:
			// An item error: encoding/json's path reports it.
			ok = s.null()
		}
		return ok
	})
}

func (s *jscan) hitArray(depth int, r *rawSearch, scores *[]float64) bool {
	if !s.eat('[') {
		return false
	}
	r.Hits.Hits = r.Hits.Hits[:0]
	if s.eat(']') {
		return true
	}
	for {
		var h struct {
			Index  string          `json:"_index"`
			ID     string          `json:"_id"`
			Score  *float64        `json:"_score"`
			Source json.RawMessage `json:"_source"`
		}
		ok := s.object(depth, hitKeys, func(k int) bool {
			var ok bool
			switch k {
			case 0:
				var raw []byte
				var esc bool
				if raw, esc, ok = s.str(); ok && !esc && string(raw) == s.lastIndex {
					h.Index = s.lastIndex
				} else if ok = ok && !esc && utf8.Valid(raw); ok {
					h.Index = string(raw)
					s.lastIndex = h.Index
				}
			case 1:
				h.ID, ok = s.plainString()
			case 2:
				var t []byte
				if t, ok = s.number(); ok {
					var f float64
					f, err := strconv.ParseFloat(string(t), 64)
					if ok = err == nil; ok {
						if len(*scores) == cap(*scores) {
							*scores = make([]float64, 0, 2*cap(*scores))
						}
						*scores = append(*scores, f)
						h.Score = &(*scores)[len(*scores)-1]
					}
				}
			case 3:
				if s.peek() == 'n' {
					return false
				}
				start := s.i
				if ok = s.skip(depth + 1); ok {
					h.Source = s.b[start:s.i:s.i]
				}
			}
			return ok
		})
		if !ok {
			return false
		}
		r.Hits.Hits = append(r.Hits.Hits, h)
		if s.eat(',') {
			continue
		}
		return s.eat(']')
	}
}

// end checks that only whitespace follows the value.
func (s *jscan) end() bool {
	s.ws()
	return s.i == len(s.b)
}

// scoreSlab holds the hits' scores so that Score pointers need no
// allocation each: chunks that are never reallocated, so earlier
// pointers stay valid.
func scoreSlab(raw []byte) []float64 {
	return make([]float64, 0, 64)
}

func scanSearch(raw []byte) (rawSearch, bool) {
	var r rawSearch
	s := jscan{b: raw}
	scores := scoreSlab(raw)
	if !s.searchObj(0, &r, &scores) || !s.end() {
		return rawSearch{}, false
	}
	return r, true
}

func scanMSearch(raw []byte) ([]rawSearch, bool) {
	var out []rawSearch
	s := jscan{b: raw}
	scores := scoreSlab(raw)
	ok := s.object(0, []string{"responses"}, func(int) bool {
		if !s.eat('[') {
			return false
		}
		if s.eat(']') {
			return true
		}
		for {
			var r rawSearch
			if !s.searchObj(2, &r, &scores) {
				return false
			}
			out = append(out, r)
			if s.eat(',') {
				continue
			}
			return s.eat(']')
		}
	})
	if !ok || !s.end() {
		return nil, false
	}
	return out, true
}
