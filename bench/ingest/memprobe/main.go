// Command memprobe runs the loader in-process against an in-memory sink
// and prints the live heap as the load goes on (issue 7: memory must not
// grow with the input). -memprofile writes a heap profile at the end.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/knnbridge/knnbridge/bridge"
	"github.com/knnbridge/knnbridge/ingest"
)

func main() {
	file := flag.String("file", "", "fvecs file")
	prof := flag.String("memprofile", "", "heap profile at the end")
	cpuprof := flag.String("cpuprofile", "", "cpu profile")
	url := flag.String("url", "", "load through bridge.Client.Load into this cluster (index idx) instead of an in-process sink")
	flag.Parse()
	if *url != "" {
		c, err := bridge.NewClient(bridge.Config{URLs: []string{*url}})
		if err != nil {
			log.Fatal(err)
		}
		off := false
		os.Remove("/tmp/memprobe.ck")
		go func() {
			for {
				time.Sleep(time.Second)
				runtime.GC()
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				fmt.Printf("live %.1f MB sys %.1f MB\n", float64(m.HeapAlloc)/1e6, float64(m.Sys)/1e6)
				if *prof != "" {
					f, _ := os.Create(*prof + ".mid")
					pprof.WriteHeapProfile(f)
					f.Close()
				}
			}
		}()
		rep, err := c.Load(context.Background(), bridge.LoadOptions{Input: *file, Index: "idx", Tune: &off, Senders: 2, Checkpoint: "/tmp/memprobe.ck"})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("accepted", rep.Accepted)
		runtime.GC()
		if *prof != "" {
			f, _ := os.Create(*prof)
			pprof.WriteHeapProfile(f)
			f.Close()
		}
		return
	}
	r, err := ingest.Open(*file, "fvecs", ingest.Options{})
	if err != nil {
		log.Fatal(err)
	}
	if *cpuprof != "" {
		f, _ := os.Create(*cpuprof)
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	sink := ingest.SinkFunc(func(ctx context.Context, body []byte) ([]byte, int, error) {
		n := bytes.Count(body, []byte("\n")) / 2
		var b bytes.Buffer
		b.WriteString(`{"errors":false,"items":[`)
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`{"index":{"status":201}}`)
		}
		b.WriteString("]}")
		return b.Bytes(), 200, nil
	})
	l, err := ingest.NewLoader(ingest.Config{Reader: r, Sink: sink, Checks: ingest.Checks{Dimension: 128}, Senders: 2})
	if err != nil {
		log.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Second)
		for {
			select {
			case <-done:
				return
			case <-t.C:
				runtime.GC()
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				fmt.Printf("read %d live %.1f MB sys %.1f MB\n", l.Stats().Read, float64(m.HeapAlloc)/1e6, float64(m.Sys)/1e6)
				if *prof != "" {
					f, _ := os.Create(fmt.Sprintf("%s.%d", *prof, l.Stats().Read/100000))
					pprof.WriteHeapProfile(f)
					f.Close()
				}
			}
		}
	}()
	rep, err := l.Run(context.Background())
	close(done)
	if err != nil {
		log.Fatal(err)
	}
	runtime.GC()
	fmt.Println("accepted", rep.Checkpoint.Accepted)
	if *prof != "" {
		f, _ := os.Create(*prof)
		pprof.WriteHeapProfile(f)
		f.Close()
	}
}
