// Command gen writes n random d-dimensional float32 vectors as fvecs, npy
// or jsonl (streaming, constant memory), for the ingest benchmarks.
package main

import (
	"bufio"
	"encoding/binary"
	"flag"
	"fmt"
	"log"
	"math"
	"math/rand/v2"
	"os"
	"strings"

	"github.com/knnbridge/knnbridge/ingest"
)

func main() {
	n := flag.Int("n", 100000, "vectors")
	d := flag.Int("d", 128, "dimension")
	seed := flag.Uint64("seed", 1, "random seed")
	out := flag.String("o", "vectors.fvecs", "output file (.fvecs, .npy or .jsonl)")
	flag.Parse()
	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	rng := rand.New(rand.NewPCG(*seed, 7))
	v := make([]float32, *d)
	var line []byte
	switch {
	case strings.HasSuffix(*out, ".npy"):
		if err := ingest.WriteNpyHeader(w, "<f4", *n, *d); err != nil {
			log.Fatal(err)
		}
	}
	for i := range *n {
		for j := range v {
			v[j] = float32(rng.NormFloat64())
		}
		switch {
		case strings.HasSuffix(*out, ".fvecs"):
			binary.Write(w, binary.LittleEndian, int32(*d))
			fallthrough
		case strings.HasSuffix(*out, ".npy"):
			var b [4]byte
			for _, x := range v {
				binary.LittleEndian.PutUint32(b[:], math.Float32bits(x))
				w.Write(b[:])
			}
		case strings.HasSuffix(*out, ".jsonl"):
			line = fmt.Appendf(line[:0], `{"id":"doc-%d","vector":`, i)
			line = ingest.AppendVector(line, v)
			line = append(line, "}\n"...)
			w.Write(line)
		default:
			log.Fatalf("unknown output extension %s", *out)
		}
	}
	if err := w.Flush(); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}
