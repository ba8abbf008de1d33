package embed

import (
	"math"
	"math/rand"
	"testing"
)

// attention (the AVX2 tile path where available, else the generic one)
// against a float64 reference: several sequences packed back to back,
// lengths around the 4-row and 8/16-column tile edges, 1–3 threads.
func TestAttentionMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	for _, shape := range []struct{ H, nh int }{{64, 2}, {96, 3}, {48, 2}, {24, 3}} {
		m := &Model{Config: BertConfig{HiddenSize: shape.H, NumAttentionHeads: shape.nh}}
		H, nh := shape.H, shape.nh
		dh := H / nh
		lens := []int{1, 3, 4, 5, 12, 16, 17, 33, 2}
		offs := []int{0}
		for _, L := range lens {
			offs = append(offs, offs[len(offs)-1]+L)
		}
		T := offs[len(offs)-1]
		qkv := make([]float32, (T+3)*3*H)
		for i := range qkv[:T*3*H] {
			qkv[i] = float32(rng.NormFloat64() * 2)
		}
		for i := range qkv[T*3*H:] {
			qkv[T*3*H+i] = float32(math.NaN()) // spare rows must not leak into results
		}
		want := make([]float64, T*H)
		scale := 1 / math.Sqrt(float64(dh))
		for si := range lens {
			base, L := offs[si], lens[si]
			for h := 0; h < nh; h++ {
				for i := 0; i < L; i++ {
					sc := make([]float64, L)
					mx := math.Inf(-1)
					for j := 0; j < L; j++ {
						var d float64
						for e := 0; e < dh; e++ {
							d += float64(qkv[(base+i)*3*H+h*dh+e]) * float64(qkv[(base+j)*3*H+H+h*dh+e])
						}
						sc[j] = d * scale
						mx = math.Max(mx, sc[j])
					}
					var sum float64
					for j := range sc {
						sc[j] = math.Exp(sc[j] - mx)
						sum += sc[j]
					}
					for e := 0; e < dh; e++ {
						var o float64
						for j := 0; j < L; j++ {
							o += sc[j] / sum * float64(qkv[(base+j)*3*H+2*H+h*dh+e])
						}
						want[(base+i)*H+h*dh+e] = o
					}
				}
			}
		}
		for _, threads := range []int{1, 2, 3} {
			out := make([]float32, T*H)
			for i := range out {
				out[i] = float32(math.NaN()) // every element must be written
			}
			m.attention(out, qkv, offs, threads)
			for i := range out {
				if d := math.Abs(float64(out[i]) - want[i]); !(d <= 1e-5) {
					t.Fatalf("H=%d heads=%d threads=%d: out[%d] (token %d) = %v, want %v", H, nh, threads, i, i/H, out[i], want[i])
				}
			}
		}
	}
}

// tokenGroups covers every sequence once, in order, in runs of whole
// sequences that reach groupTokens (the last may be shorter).
func TestTokenGroups(t *testing.T) {
	ones := make([]int, 150)
	for i := range ones {
		ones[i] = 1
	}
	for _, lens := range [][]int{{5}, {12, 12, 12}, {200, 3, 3, 150, 1}, ones} {
		offs := []int{0}
		for _, l := range lens {
			offs = append(offs, offs[len(offs)-1]+l)
		}
		g := tokenGroups(offs)
		next := 0
		for i, r := range g {
			if r[0] != next || r[1] <= r[0] {
				t.Fatalf("lens %v: groups %v: group %d does not follow on", lens, g, i)
			}
			if i < len(g)-1 && offs[r[1]]-offs[r[0]] < groupTokens {
				t.Fatalf("lens %v: groups %v: group %d has %d tokens", lens, g, i, offs[r[1]]-offs[r[0]])
			}
			next = r[1]
		}
		if next != len(lens) {
			t.Fatalf("lens %v: groups %v end at %d", lens, g, next)
		}
	}
}
