// Command minimal is the benchmark's baseline: the shortest reasonable Go
// loader on opensearch-go — read fvecs, encoding/json bodies of -batch
// documents, -senders goroutines, no retries, no checks, no checkpoint.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/opensearch-project/opensearch-go/v4"
	"github.com/opensearch-project/opensearch-go/v4/opensearchapi"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:9200", "OpenSearch URL")
	index := flag.String("index", "", "index")
	file := flag.String("file", "", "fvecs file")
	senders := flag.Int("senders", 2, "concurrent bulk requests")
	batch := flag.Int("batch", 1000, "documents per bulk request")
	hashIDs := flag.Bool("hash-ids", false, "random-looking ids (sha256 of the ordinal) instead of 0, 1, 2...")
	limit := flag.Int("limit", 0, "stop after this many vectors (0: all; the benchmark's warm-up)")
	flag.Parse()
	c, err := opensearchapi.NewClient(opensearchapi.Config{Client: opensearch.Config{Addresses: strings.Split(*url, ",")}})
	if err != nil {
		log.Fatal(err)
	}
	f, err := os.Open(*file)
	if err != nil {
		log.Fatal(err)
	}
	br := bufio.NewReaderSize(f, 1<<20)
	bodies := make(chan []byte, *senders)
	var failed atomic.Int64
	var wg sync.WaitGroup
	for range *senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range bodies {
				resp, err := c.Bulk(context.Background(), opensearchapi.BulkReq{Index: *index, Body: bytes.NewReader(b)})
				if err != nil {
					log.Fatal(err)
				}
				if resp.Errors {
					for _, it := range resp.Items {
						for _, r := range it {
							if r.Error != nil {
								failed.Add(1)
							}
						}
					}
				}
			}
		}()
	}
	type src struct {
		Vector []float32 `json:"vector"`
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	var hdr [4]byte
	n, inBatch := 0, 0
	for *limit <= 0 || n < *limit {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			break
		}
		d := int(binary.LittleEndian.Uint32(hdr[:]))
		raw := make([]byte, 4*d)
		if _, err := io.ReadFull(br, raw); err != nil {
			log.Fatal(err)
		}
		v := make([]float32, d)
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
		id := strconv.Itoa(n)
		if *hashIDs {
			h := sha256.Sum256([]byte(id))
			id = base64.RawURLEncoding.EncodeToString(h[:16])
		}
		enc.Encode(map[string]any{"index": map[string]any{"_id": id}})
		enc.Encode(src{Vector: v})
		n++
		inBatch++
		if inBatch == *batch {
			bodies <- bytes.Clone(buf.Bytes())
			buf.Reset()
			inBatch = 0
		}
	}
	if inBatch > 0 {
		bodies <- bytes.Clone(buf.Bytes())
	}
	close(bodies)
	wg.Wait()
	fmt.Printf(`{"docs":%d,"failed":%d}`+"\n", n, failed.Load())
}
