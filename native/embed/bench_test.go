package embed

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// benchTexts are ~12-token and ~128-token English inputs (bench/embed
// uses the same shapes against onnxruntime and sentence-transformers).
func benchTexts(words, n int) []string {
	vocab := strings.Fields("time person year way day thing man world life hand part child eye woman place work week case point government company number group problem fact")
	out := make([]string, n)
	for i := range out {
		w := make([]string, words)
		for j := range w {
			w[j] = vocab[(i*7+j*13)%len(vocab)]
		}
		out[i] = strings.Join(w, " ") + "."
	}
	return out
}

func BenchmarkEmbed(b *testing.B) {
	l := sharedModel(b)
	for _, in := range []struct {
		name  string
		words int
	}{{"short", 9}, {"long", 125}} {
		for _, bs := range []int{1, 32} {
			texts := benchTexts(in.words, bs)
			b.Run(fmt.Sprintf("%s/batch%d", in.name, bs), func(b *testing.B) {
				t0 := cpuTime()
				for b.Loop() {
					if _, err := l.Embed(context.Background(), texts); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*bs)/b.Elapsed().Seconds(), "sentences/s")
				b.ReportMetric(float64(b.N*bs)/(cpuTime()-t0).Seconds(), "sentences/cpu-s")
			})
		}
	}
}

// BenchmarkEmbedGroups compares layer passes over groups of sequences
// (groupTokens) with whole-batch passes.
func BenchmarkEmbedGroups(b *testing.B) {
	l := sharedModel(b)
	for _, in := range []struct {
		name  string
		words int
	}{{"short", 9}, {"long", 125}} {
		texts := benchTexts(in.words, 32)
		for _, g := range []int{1 << 30, 96, 144, 288} {
			b.Run(fmt.Sprintf("%s/batch32/group=%d", in.name, min(g, 99999)), func(b *testing.B) {
				save := groupTokens
				groupTokens = g
				defer func() { groupTokens = save }()
				t0 := cpuTime()
				for b.Loop() {
					if _, err := l.Embed(context.Background(), texts); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*32)/b.Elapsed().Seconds(), "sentences/s")
				b.ReportMetric(float64(b.N*32)/(cpuTime()-t0).Seconds(), "sentences/cpu-s")
			})
		}
	}
}
