package ingest

import (
	"fmt"
	"math"
)

// DataType is the knn_vector data_type of the target field.
type DataType string

const (
	Float  DataType = "float"
	Byte   DataType = "byte"   // int8 components, -128..127
	Binary DataType = "binary" // bits packed in int8 components, dimension counts bits
)

// Checks are applied to every vector before it is sent, so the cluster never
// sees a document it would reject for a reason we can tell in advance.
type Checks struct {
	// Dimension of the knn_vector field; 0 takes it from the first vector.
	Dimension int
	DataType  DataType
	// SpaceType of the field; "cosinesimil" forbids zero vectors.
	SpaceType string
}

// Check returns nil or the reason vector v cannot be indexed.
func (c *Checks) Check(v []float32) error {
	want := c.Dimension
	if c.DataType == Binary {
		// k-NN binary: dimension counts bits and must be a multiple of 8; the
		// vector carries dimension/8 packed int8 values
		// (KNN: "Dimension should be multiply of 8 for binary vector data type").
		want = c.Dimension / 8
	}
	if want == 0 {
		c.Dimension = len(v)
		if c.DataType == Binary {
			c.Dimension = 8 * len(v)
		}
		want = len(v)
	}
	if len(v) != want {
		return fmt.Errorf("dimension %d, index expects %d", len(v), want)
	}
	zero := true
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Errorf("component %d is %v", i, x)
		}
		if x != 0 {
			zero = false
		}
		if c.DataType == Byte || c.DataType == Binary {
			// byte vectors: integers in [-128, 127] (k-NN docs, knn-vector
			// "byte vectors"); the plugin rejects fractions and out-of-range values.
			if x != float32(math.Trunc(float64(x))) || x < -128 || x > 127 {
				return fmt.Errorf("component %d = %v is not an integer in [-128, 127] required by data_type %s", i, x, c.DataType)
			}
		}
	}
	// cosinesimil rejects zero vectors at index time (KNN SpaceType.validateVector).
	if zero && c.SpaceType == "cosinesimil" {
		return fmt.Errorf("zero vector cannot be indexed with space_type cosinesimil")
	}
	return nil
}
