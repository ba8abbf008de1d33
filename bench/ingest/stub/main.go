// Command stub is an in-memory stand-in for the few OpenSearch endpoints a
// load touches (mapping, settings, count, refresh, bulk), answering every
// bulk item with 201. The benchmark uses it only to measure the loader's
// own peak RSS and CPU on inputs far larger than this machine's cluster can
// index in a benchmark run (1M vectors); throughput figures come from the
// real cluster.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"log"
	"net/http"
	"strings"
	"sync/atomic"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9299", "listen address")
	dim := flag.Int("dim", 128, "dimension of the vector field")
	flag.Parse()
	var count atomic.Int64
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasSuffix(p, "/_bulk"):
			sc := bufio.NewScanner(r.Body)
			sc.Buffer(make([]byte, 1<<20), 64<<20)
			var items bytes.Buffer
			n := 0
			for sc.Scan() {
				if !sc.Scan() {
					break
				}
				if n > 0 {
					items.WriteByte(',')
				}
				items.WriteString(`{"index":{"status":201}}`)
				n++
			}
			count.Add(int64(n))
			fmt.Fprintf(w, `{"errors":false,"items":[%s]}`, items.Bytes())
		case strings.HasSuffix(p, "/_mapping"):
			fmt.Fprintf(w, `{"idx":{"mappings":{"properties":{"vector":{"type":"knn_vector","dimension":%d,"method":{"engine":"lucene","space_type":"l2"}}}}}}`, *dim)
		case strings.HasSuffix(p, "/_count"):
			fmt.Fprintf(w, `{"count":%d}`, count.Load())
		case strings.HasSuffix(p, "/_settings"):
			fmt.Fprint(w, `{"idx":{"settings":{}}}`)
		default:
			fmt.Fprint(w, `{}`)
		}
	})
	log.Fatal(http.ListenAndServe(*addr, nil))
}
