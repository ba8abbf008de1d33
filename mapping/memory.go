package mapping

import (
	"fmt"
	"math"
)

// EstimateInput is what the memory formulas need beyond the spec.
type EstimateInput struct {
	// Vectors per knn_vector field (documents, or nested vectors).
	Vectors int64
	// Segments per shard copy for the PQ code books; 0 means 300, the
	// documentation's figure when the count is unknown.
	Segments int
}

// FieldEstimate is the estimated native (or page-cache, for lucene)
// memory of one knn_vector field.
type FieldEstimate struct {
	Path    string  `json:"path"`
	Formula string  `json:"formula"`
	Bytes   float64 `json:"bytes"` // one copy of the data (primaries)
	Total   float64 `json:"total"` // times (1 + replicas)
	Note    string  `json:"note,omitempty"`
}

// Estimate is the memory estimate of an index.
type Estimate struct {
	Fields []FieldEstimate `json:"fields"`
	Copies int             `json:"copies"` // 1 + replicas
	Total  float64         `json:"total_bytes"`
}

// EstimateMemory applies the k-NN documentation's memory formulas (DW
// _vector-search/optimizing-storage/ and knn-methods-engines.md "Memory
// estimation"; 10% overhead, replicas multiply) to every knn_vector field
// of a normalized spec.
func EstimateMemory(s *IndexSpec, in EstimateInput) Estimate {
	copies := 1
	if s.Settings.Replicas != nil {
		copies += *s.Settings.Replicas
	}
	segments := in.Segments
	if segments <= 0 {
		segments = 300
	}
	est := Estimate{Copies: copies}
	walkFields(s.Fields, "", "", func(path, _ string, f *Field) {
		if f.Type != TypeKNNVector {
			return
		}
		fe := estimateField(f, float64(in.Vectors), float64(segments))
		fe.Path = path
		fe.Total = fe.Bytes * float64(copies)
		est.Fields = append(est.Fields, fe)
		est.Total += fe.Total
	})
	return est
}

func estimateField(f *Field, n, segments float64) FieldEstimate {
	if f.ModelID != "" {
		return FieldEstimate{Note: "model-based field: the method comes from the model; estimate it from the model's method"}
	}
	if f.Dimension == nil {
		return FieldEstimate{Note: "no dimension"}
	}
	d := float64(*f.Dimension)
	if f.Method == nil {
		// Flat field (index.knn false): vectors live in doc values only.
		bytesPer := 4 * d
		switch f.DataType {
		case DataByte:
			bytesPer = d
		case DataBinary:
			bytesPer = d / 8
		}
		return FieldEstimate{Formula: "no graph (index.knn false): doc values only", Bytes: bytesPer * n, Note: "read from disk for exact search"}
	}
	m := f.Method
	p := m.Parameters
	if p == nil {
		p = &MethodParams{}
	}
	hm := float64(defaultM)
	if p.M != nil {
		hm = float64(*p.M)
	}
	nlist := float64(defaultNlist)
	if p.Nlist != nil {
		nlist = float64(*p.Nlist)
	}
	// bytes per stored vector, before graph links
	vecBytes, how := 4*d, "4d"
	switch f.DataType {
	case DataByte:
		vecBytes, how = d, "d"
	case DataBinary:
		vecBytes, how = d/8, "d/8"
	}
	if e := p.Encoder; e != nil {
		switch e.Name {
		case EncoderSQ:
			if m.Engine == EngineLucene {
				vecBytes, how = d, "d (7-bit sq)"
			} else {
				vecBytes, how = 2*d, "2d (fp16)"
			}
		case EncoderBinary:
			b := 1.0
			if e.Parameters != nil && e.Parameters.Bits != nil {
				b = float64(*e.Parameters.Bits)
			}
			vecBytes, how = d*b/8, fmt.Sprintf("d*%g/8 (binary quantization)", b)
		case EncoderPQ:
			pm, cs := 1.0, float64(pqCodeSizeDefault)
			if e.Parameters != nil && e.Parameters.M != nil {
				pm = float64(*e.Parameters.M)
			}
			if e.Parameters != nil && e.Parameters.CodeSize != nil {
				cs = float64(*e.Parameters.CodeSize)
			}
			books := segments * math.Pow(2, cs) * 4 * d
			if m.Name == MethodIVF {
				books += segments * 4 * nlist * d
				return FieldEstimate{Formula: "1.1*((code_size/8)*pq_m + 24)*N + segments*(2^code_size*4d + 4*nlist*d)",
					Bytes: 1.1*((cs/8)*pm+24)*n + books}
			}
			return FieldEstimate{Formula: "1.1*((code_size/8)*pq_m + 24 + 8*m)*N + segments*(2^code_size*4d)",
				Bytes: 1.1*((cs/8)*pm+24+8*hm)*n + books}
		}
	} else if f.CompressionLevel != "" && f.CompressionLevel != "1x" {
		// mode/compression without an explicit encoder: the resolver's encoder.
		switch f.CompressionLevel {
		case "2x":
			vecBytes, how = 2*d, "2d (fp16, 2x)"
		case "4x":
			vecBytes, how = d, "d (7-bit sq, 4x)"
		case "8x":
			vecBytes, how = d*4/8, "d*4/8 (4-bit BQ, 8x)"
		case "16x":
			vecBytes, how = d*2/8, "d*2/8 (2-bit BQ, 16x)"
		case "32x":
			vecBytes, how = d/8, "d/8 (1-bit BQ, 32x)"
		}
	} else if f.Mode == ModeOnDisk && m.Engine == EngineFaiss {
		vecBytes, how = d/8, "d/8 (on_disk default 32x)"
	}
	if m.Name == MethodIVF {
		centroids := 4 * nlist * d
		if f.DataType == DataBinary {
			centroids = nlist * d / 8
		}
		return FieldEstimate{Formula: "1.1*(" + how + "*N + 4*nlist*d)", Bytes: 1.1 * (vecBytes*n + centroids)}
	}
	fe := FieldEstimate{Formula: "1.1*(" + how + " + 8m)*N", Bytes: 1.1 * (vecBytes + 8*hm) * n}
	if m.Engine == EngineLucene {
		fe.Note = "lucene: held in the OS page cache, not in the k-NN native memory"
	}
	return fe
}

// HumanBytes formats a byte count with binary units.
func HumanBytes(b float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for b >= 1024 && i < len(units)-1 {
		b /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %s", b, units[i])
}
