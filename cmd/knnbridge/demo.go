package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/knnbridge/knnbridge/bridge"
	"github.com/knnbridge/knnbridge/bridge/server"
	"github.com/knnbridge/knnbridge/ingest"
	"github.com/knnbridge/knnbridge/mapping"
	"github.com/knnbridge/knnbridge/native/embed"
)

func init() { rootCmd.AddCommand(newDemoCmd()) }

// demoQuestions are answered with hybrid search at the end of the demo.
var demoQuestions = []string{
	"a large animal that lives in the ocean and breathes air",
	"a feeling of great happiness",
	"an instrument for measuring time",
	"the scientific study of the stars and planets",
	"a building where sick people are cared for",
	"to move quickly on foot",
}

type demoOptions struct {
	docs       int
	index      string
	wordnetDir string
	recreate   bool
	noCache    bool
	topK       int
	batch      int
}

func newDemoCmd() *cobra.Command {
	var o demoOptions
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "End-to-end demo: embed and load WordNet definitions, then answer questions with hybrid search",
		Long: `Run knnbridge end to end on a real corpus: the definitions of Debian's
wordnet-base package (about 117k English word senses, /usr/share/wordnet/
data.{noun,verb,adj,adv}; apt-get install wordnet-base).

It creates a hybrid index (BM25 text + lucene HNSW cosine vectors) through
the index planner, embeds the definitions locally with the model of
KNNBRIDGE_EMBED_* (all-MiniLM-L6-v2 from 'make model' by default), loads
them with the lossless bulk loader, starts the sidecar in-process on
loopback and asks it a handful of natural-language questions with hybrid
search, printing hits, scores and timings. The index stays in place.

--docs (env KNNBRIDGE_DEMO_DOCS) picks how many definitions, spread evenly
over the corpus; 0 or "all" loads every one. Vectors are cached under
$KNNBRIDGE_CACHE_DIR/demo so a second run does not embed again
(--no-cache to embed anyway).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if v := os.Getenv("KNNBRIDGE_DEMO_DOCS"); v != "" && !cmd.Flags().Changed("docs") {
				if v == "all" {
					o.docs = 0
				} else if n, err := strconv.Atoi(v); err == nil && n >= 0 {
					o.docs = n
				} else {
					return fmt.Errorf("KNNBRIDGE_DEMO_DOCS=%q: want a count or \"all\"", v)
				}
			}
			return runDemo(cmd.Context(), cmd.OutOrStdout(), o)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.docs, "docs", 20000, "definitions to load, spread over the corpus (0 = all ~117k; env KNNBRIDGE_DEMO_DOCS, \"all\")")
	f.StringVar(&o.index, "index", "knnbridge-demo-wordnet", "index name")
	f.StringVar(&o.wordnetDir, "wordnet-dir", "/usr/share/wordnet", "directory with WordNet's data.{noun,verb,adj,adv}")
	f.BoolVar(&o.recreate, "recreate", false, "delete the index first")
	f.BoolVar(&o.noCache, "no-cache", false, "embed even when cached vectors exist")
	f.IntVar(&o.topK, "k", 3, "hits to print per question")
	f.IntVar(&o.batch, "embed-batch", 64, "texts per embedding call")
	return cmd
}

// synset is one WordNet word sense.
type synset struct {
	ID         string // pos:offset, e.g. n:02062744
	POS        string
	Words      []string
	Definition string // the gloss up to the first example
	Gloss      string // the whole gloss, examples included
}

var posNames = map[string]string{"n": "noun", "v": "verb", "a": "adjective", "s": "adjective", "r": "adverb"}

// readWordNet parses data.{noun,verb,adj,adv}: one synset per line,
// "offset lex_filenum ss_type w_cnt word lex_id ... | gloss" (wndb(5WN)).
// License header lines start with two spaces.
func readWordNet(dir string) ([]synset, error) {
	var out []synset
	for _, file := range []string{"data.noun", "data.verb", "data.adj", "data.adv"} {
		f, err := os.Open(filepath.Join(dir, file))
		if err != nil {
			return nil, fmt.Errorf("%w (install Debian's wordnet-base: apt-get install -y wordnet-base)", err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		line := 0
		for sc.Scan() {
			line++
			l := sc.Text()
			if strings.HasPrefix(l, "  ") || l == "" {
				continue
			}
			bar := strings.Index(l, " | ")
			if bar < 0 {
				continue
			}
			head := strings.Fields(l[:bar])
			if len(head) < 5 {
				f.Close()
				return nil, fmt.Errorf("%s line %d: short synset header", file, line)
			}
			n, err := strconv.ParseInt(head[3], 16, 32) // w_cnt is two hex digits
			if err != nil || 4+2*int(n) > len(head) {
				f.Close()
				return nil, fmt.Errorf("%s line %d: bad word count %q", file, line, head[3])
			}
			s := synset{ID: head[2] + ":" + head[0], POS: posNames[head[2]], Gloss: strings.TrimSpace(l[bar+3:])}
			for i := 0; i < int(n); i++ {
				s.Words = append(s.Words, strings.ReplaceAll(head[4+2*i], "_", " "))
			}
			s.Definition = s.Gloss
			if i := strings.Index(s.Gloss, `; "`); i > 0 {
				s.Definition = s.Gloss[:i]
			}
			s.Definition = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s.Definition), ";"))
			out = append(out, s)
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", file, err)
		}
	}
	return out, nil
}

// spread picks n items evenly over all (every item when n is 0 or ≥ len).
func spread(all []synset, n int) []synset {
	if n <= 0 || n >= len(all) {
		return all
	}
	out := make([]synset, 0, n)
	for i := 0; i < n; i++ {
		out = append(out, all[i*len(all)/n])
	}
	return out
}

func demoSpec(name string, dim int) *mapping.IndexSpec {
	return &mapping.IndexSpec{
		Name:     name,
		Settings: mapping.Settings{Shards: mapping.Int(1), Replicas: mapping.Int(0), RefreshInterval: "-1"},
		Fields: map[string]*mapping.Field{
			"text":       {Type: "text"},
			"definition": {Type: "text"},
			"words":      {Type: "text"},
			"gloss":      {Type: "text"},
			"pos":        {Type: "keyword"},
			"embedding": {Type: "knn_vector", Dimension: mapping.Int(dim), SpaceType: mapping.SpaceCosine,
				Method: &mapping.Method{Name: mapping.MethodHNSW, Engine: mapping.EngineLucene,
					Parameters: &mapping.MethodParams{M: mapping.Int(16), EfConstruction: mapping.Int(100)}}},
		},
	}
}

func runDemo(ctx context.Context, out io.Writer, o demoOptions) error {
	t0 := time.Now()
	say := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	client, err := newClusterClient()
	if err != nil {
		return err
	}
	info, err := client.Info(ctx)
	if err != nil {
		return clusterError{fmt.Errorf("the demo needs a running OpenSearch (make opensearch-up): %w", err)}
	}
	say("== cluster   %s %s at %s (k-NN plugin: %t)", info.Distribution, info.Version, info.URL, info.KNNInstalled)
	if !info.KNNInstalled {
		return clusterError{errors.New("the k-NN plugin is not installed on this cluster")}
	}

	all, err := readWordNet(o.wordnetDir)
	if err != nil {
		return err
	}
	docs := spread(all, o.docs)
	say("== corpus    WordNet 3.0 (Debian wordnet-base): %d synsets, loading %d", len(all), len(docs))

	ecfg, err := embed.ConfigFromEnv()
	if err != nil {
		return err
	}
	tm := time.Now()
	emb, err := embed.New(ecfg)
	if err != nil {
		return fmt.Errorf("loading the embedding model (run `make model`): %w", err)
	}
	say("== model     %s, %d dimensions, loaded in %s", emb.ModelName(), emb.Dimension(), time.Since(tm).Round(time.Millisecond))

	// Index: plan and apply through the same code as `knnbridge index apply`.
	if o.recreate {
		if _, err := client.Do(ctx, http.MethodDelete, "/"+o.index, nil); err != nil && !bridge.IsNotFound(err) {
			return clusterError{err}
		}
	}
	ip, err := client.PlanIndex(ctx, demoSpec(o.index, emb.Dimension()))
	if err != nil {
		return clusterError{err}
	}
	if ip.Plan.NeedsReindex() {
		return fmt.Errorf("index %s exists with another mapping; rerun with --recreate", o.index)
	}
	res, err := client.ApplyIndex(ctx, ip, bridge.ApplyOptions{})
	if err != nil {
		return clusterError{err}
	}
	say("== index     %s (created: %t): text fields definition/words/gloss (BM25), embedding knn_vector %d cosinesimil lucene HNSW m=16", o.index, res.Created, emb.Dimension())

	// Vectors: cached by model and text, so a rerun skips the encoder.
	texts := make([]string, len(docs))
	for i, d := range docs {
		texts[i] = strings.Join(d.Words, ", ") + ": " + d.Definition
	}
	cache := &vectorCache{path: demoCachePath(emb.ModelName(), texts), dim: emb.Dimension()}
	var vecs [][]float32
	if !o.noCache {
		vecs, _ = cache.load(len(texts))
	}
	embedded := false
	tl := time.Now()
	var embedTime time.Duration
	recs := make([]ingest.Record, len(docs))
	for i, d := range docs {
		words, _ := json.Marshal(strings.Join(d.Words, ", "))
		def, _ := json.Marshal(d.Definition)
		gloss, _ := json.Marshal(d.Gloss)
		pos, _ := json.Marshal(d.POS)
		recs[i] = ingest.Record{Pos: ingest.Position{Record: int64(i)}, ID: d.ID, Text: texts[i], HasText: true,
			Fields: []ingest.Field{{Name: "words", Raw: words}, {Name: "definition", Raw: def}, {Name: "gloss", Raw: gloss}, {Name: "pos", Raw: pos}}}
		if vecs != nil {
			recs[i].Vector = vecs[i]
		}
	}
	var embMu sync.Mutex
	collected := make([][]float32, 0, len(docs))
	var ingEmb ingest.Embedder
	if vecs == nil {
		embedded = true
		ingEmb = timedEmbedder{inner: emb, total: &embedTime, mu: &embMu, keep: &collected}
		say("== embed+load %d definitions (\"words: definition\") with %s on %s threads, bulk into %s", len(docs), emb.ModelName(), threadsOf(ecfg), o.index)
	} else {
		say("== load      %d definitions with cached vectors (%s); --no-cache to embed again", len(docs), cache.path)
	}
	rd := &sliceReader{recs: recs}
	sink := ingest.SinkFunc(func(ctx context.Context, b []byte) ([]byte, int, error) {
		resp, err := client.Do(ctx, http.MethodPost, "/"+o.index+"/_bulk?filter_path=errors,items.*.status,items.*.error", b)
		var be *bridge.Error
		if errors.As(err, &be) {
			return []byte(be.Error()), be.Status, nil
		}
		if err != nil {
			return nil, 0, err
		}
		return resp, http.StatusOK, nil
	})
	ld, err := ingest.NewLoader(ingest.Config{
		Reader: rd, Sink: sink, Embedder: ingEmb,
		Checks:     ingest.Checks{Dimension: emb.Dimension(), DataType: ingest.Float, SpaceType: mapping.SpaceCosine},
		Encoder:    ingest.Encoder{VectorField: "embedding", TextField: "text"},
		EmbedBatch: o.batch, MaxBatchDocs: 500, Senders: 2,
	})
	if err != nil {
		return err
	}
	stopProgress := showProgress(ld, len(docs))
	rep, err := ld.Run(ctx)
	stopProgress()
	if err != nil {
		return clusterError{fmt.Errorf("loading: %w", err)}
	}
	loadTime := time.Since(tl)
	if _, err := client.Do(ctx, http.MethodPut, "/"+o.index+"/_settings", map[string]any{"index": map[string]any{"refresh_interval": "1s"}}); err != nil {
		return clusterError{err}
	}
	if _, err := client.Do(ctx, http.MethodPost, "/"+o.index+"/_refresh", nil); err != nil {
		return clusterError{err}
	}
	var count struct {
		Count int64 `json:"count"`
	}
	if err := client.DoJSON(ctx, http.MethodGet, "/"+o.index+"/_count", nil, &count); err != nil {
		return clusterError{err}
	}
	rate := float64(rep.Stats.Accepted) / loadTime.Seconds()
	say("            %d indexed, %d rejected, %d retried in %s (%.0f docs/s); index holds %d documents",
		rep.Stats.Accepted, rep.Stats.Rejected, rep.Stats.Retried, loadTime.Round(time.Millisecond), rate, count.Count)
	if embedded {
		say("            embedding took %s of it (%.0f texts/s)", embedTime.Round(time.Millisecond), float64(len(docs))/embedTime.Seconds())
		if len(collected) == len(docs) {
			if err := cache.save(collected); err != nil {
				say("            (could not cache the vectors: %v)", err)
			}
		}
	}
	for _, r := range rep.Rejections {
		say("            rejected %s: %s: %s", r.ID, r.Stage, r.Reason)
	}

	// Questions: through the sidecar, over HTTP on loopback.
	token := randomToken()
	scfg, err := server.ConfigFromEnv()
	if err != nil {
		return err
	}
	scfg.ListenAddr, scfg.APIToken, scfg.AuthDisabled, scfg.LogLevel = "127.0.0.1:0", token, false, "warn"
	srv, err := server.New(scfg, server.Deps{Cluster: client, LoadEmbedder: func() (embed.Embedder, error) { return emb, nil }, Logger: zap.NewNop()})
	if err != nil {
		return err
	}
	sctx, stopSrv := context.WithCancel(ctx)
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- srv.Run(sctx, func(a string) { addrc <- a }) }()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-done:
		stopSrv()
		return err
	}
	defer func() { stopSrv(); <-done }()
	if err := waitReady(ctx, addr); err != nil {
		return err
	}
	say("\n== questions (hybrid: BM25 on definition/words + k-NN on embedding, min-max normalized, weighted mean 0.3/0.7; sidecar at http://%s)", addr)
	for _, q := range demoQuestions {
		if err := askDemo(ctx, out, addr, token, o.index, q, o.topK); err != nil {
			return err
		}
	}
	say("\n== done in %s (wall time, this machine; shared machines are slower)", time.Since(t0).Round(time.Second))
	say(`
The cluster and the index %[1]s stay in place. Explore them:
  curl -s '%[2]s/%[1]s/_count'
  KNNBRIDGE_API_TOKEN=$(openssl rand -hex 24) ./bin/knnbridge serve &      # the sidecar on 127.0.0.1:8080
  curl -s -H "Authorization: Bearer $KNNBRIDGE_API_TOKEN" -X POST localhost:8080/v1/indexes/%[1]s/search \
       -d '{"query": "a small boat for one person", "k": 5, "explain": true}'
  ./bin/knnbridge search --help                                               # the same from the CLI
Load every definition: KNNBRIDGE_DEMO_DOCS=all make demo
Stop the cluster:      make opensearch-down   (or compose/local.sh down)`, o.index, strings.TrimRight(info.URL, "/"))
	return nil
}

func threadsOf(c embed.Config) string {
	if c.Threads > 0 {
		return strconv.Itoa(c.Threads)
	}
	return "all"
}

func randomToken() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func waitReady(ctx context.Context, addr string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return errors.New("the in-process sidecar did not become ready in 30s")
}

func askDemo(ctx context.Context, out io.Writer, addr, token, index, q string, k int) error {
	body, _ := json.Marshal(map[string]any{"query": q, "k": k, "explain": true, "text_fields": []string{"definition", "words"},
		"fusion": map[string]any{"weights": []float64{0.3, 0.7}},
		"source": []string{"words", "definition", "pos"}})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/v1/indexes/"+index+"/search", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	t := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	wall := time.Since(t)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("search %q: %d %s", q, resp.StatusCode, raw)
	}
	var sr server.SearchResponse
	if err := json.Unmarshal(raw, &sr); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nQ: %s\n   %.0f ms over HTTP (embed %v ms, search %v ms in %v round trip(s) to OpenSearch); %s\n",
		q, float64(wall.Microseconds())/1000, sr.Timings["embed_ms"], sr.Timings["search_ms"], sr.Timings["round_trips"], sr.Fusion)
	for i, h := range sr.Hits {
		var src struct {
			Words, Definition, POS string
		}
		_ = json.Unmarshal(h.Source, &src)
		bm, kn := h.Explain["bm25"], h.Explain["knn"]
		sim := "   -  "
		if kn.Similarity != nil {
			sim = fmt.Sprintf("%.3f", *kn.Similarity)
		}
		fmt.Fprintf(out, "   %d. %.3f  [cos %s, bm25 %s]  %s (%s): %s\n", i+1, h.Score, sim, bm25Str(bm), src.Words, src.POS, src.Definition)
	}
	return nil
}

func bm25Str(e server.SubExplain) string {
	if !e.Present {
		return "  -  "
	}
	return fmt.Sprintf("%.2f", e.RawScore)
}

// sliceReader serves in-memory records to the loader.
type sliceReader struct {
	recs []ingest.Record
	i    int
}

func (r *sliceReader) Next() (ingest.Record, error) {
	if r.i >= len(r.recs) {
		return ingest.Record{}, io.EOF
	}
	r.i++
	return r.recs[r.i-1], nil
}
func (r *sliceReader) Tell() ingest.Position { return ingest.Position{Record: int64(r.i), Offset: -1} }
func (r *sliceReader) Close() error          { return nil }

// timedEmbedder measures embedding time and keeps the vectors (in input
// order: the loader embeds chunks in order from one goroutine) for the
// cache.
type timedEmbedder struct {
	inner embed.Embedder
	total *time.Duration
	mu    *sync.Mutex
	keep  *[][]float32
}

func (t timedEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	s := time.Now()
	v, err := t.inner.Embed(ctx, texts)
	t.mu.Lock()
	*t.total += time.Since(s)
	if err == nil {
		*t.keep = append(*t.keep, v...)
	}
	t.mu.Unlock()
	return v, err
}
func (t timedEmbedder) Dimension() int { return t.inner.Dimension() }

func showProgress(ld *ingest.Loader, total int) func() {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	fi, _ := os.Stderr.Stat()
	tty := fi != nil && fi.Mode()&os.ModeCharDevice != 0
	go func() {
		defer wg.Done()
		var bar *progressbar.ProgressBar
		if tty {
			bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(os.Stderr), progressbar.OptionSetDescription("indexed"),
				progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("docs"),
				progressbar.OptionThrottle(200*time.Millisecond), progressbar.OptionSetPredictTime(true), progressbar.OptionClearOnFinish())
		}
		start := time.Now()
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		lastLine := time.Now()
		for {
			select {
			case <-done:
				if bar != nil {
					_ = bar.Finish()
				}
				return
			case <-tick.C:
				st := ld.Stats()
				if bar != nil {
					_ = bar.Set64(st.Accepted + st.Rejected)
				} else if time.Since(lastLine) >= 10*time.Second {
					lastLine = time.Now()
					el := time.Since(start).Seconds()
					fmt.Fprintf(os.Stderr, "            %d/%d indexed (%.0f docs/s, %s)\n", st.Accepted, total, float64(st.Accepted)/el, time.Since(start).Round(time.Second))
				}
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// vectorCache stores the demo's vectors as raw little-endian float32, named
// by a hash of the model and every text: any change embeds again.
type vectorCache struct {
	path string
	dim  int
}

func demoCachePath(model string, texts []string) string {
	h := sha256.New()
	h.Write([]byte(model))
	for _, t := range texts {
		h.Write([]byte{0})
		h.Write([]byte(t))
	}
	dir := os.Getenv("KNNBRIDGE_CACHE_DIR")
	if dir == "" {
		dir = ".cache"
	}
	return filepath.Join(dir, "demo", fmt.Sprintf("vectors-%d-%x.f32", len(texts), h.Sum(nil)[:8]))
}

func (c *vectorCache) load(n int) ([][]float32, error) {
	b, err := os.ReadFile(c.path)
	if err != nil {
		return nil, err
	}
	if len(b) != n*c.dim*4 {
		return nil, fmt.Errorf("%s: %d bytes, want %d", c.path, len(b), n*c.dim*4)
	}
	out := make([][]float32, n)
	for i := range out {
		v := make([]float32, c.dim)
		for j := range v {
			v[j] = math.Float32frombits(binary.LittleEndian.Uint32(b[(i*c.dim+j)*4:]))
		}
		out[i] = v
	}
	return out, nil
}

func (c *vectorCache) save(vecs [][]float32) error {
	if err := os.MkdirAll(filepath.Dir(c.path), 0o755); err != nil {
		return err
	}
	b := make([]byte, 0, len(vecs)*c.dim*4)
	for _, v := range vecs {
		for _, x := range v {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
		}
	}
	tmp := c.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, c.path)
}
