package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/knnbridge/knnbridge/native/embed"
)

func init() { rootCmd.AddCommand(newEmbedCmd()) }

type embedOpts struct {
	out       string
	inFormat  string
	outFormat string
	field     string
	idField   string
	backend   string
	modelDir  string
	url       string
	model     string
	batch     int
	threads   int
	chunk     int
}

func newEmbedCmd() *cobra.Command {
	var o embedOpts
	cmd := &cobra.Command{
		Use:   "embed [input]",
		Short: "Embed texts (lines or JSONL) into vectors (JSONL or .npy)",
		Long: `Reads texts from a file (or stdin when no file or "-" is given), one per line
or one JSON object per line (--in-format jsonl, or a .jsonl/.ndjson file name),
embeds them with the configured embedder and writes one vector per text:
JSONL {"line"|"id": ..., "embedding": [...]} or a float32 .npy matrix.

The embedder comes from KNNBRIDGE_EMBED_* (BACKEND=local|http, MODEL_DIR, URL,
API_KEY, MODEL, BATCH_SIZE, THREADS, ...); flags override them. With no
configuration it runs all-MiniLM-L6-v2 locally from the cache that
'make model' fills.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in := "-"
			if len(args) == 1 {
				in = args[0]
			}
			return runEmbed(cmd.Context(), cmd, in, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.out, "out", "-", "output file (- for stdout); a .npy name selects .npy output")
	f.StringVar(&o.inFormat, "in-format", "", "input format: lines or jsonl (default: from the file name, else lines)")
	f.StringVar(&o.outFormat, "out-format", "", "output format: jsonl or npy (default: from --out, else jsonl)")
	f.StringVar(&o.field, "field", "text", "JSONL field holding the text")
	f.StringVar(&o.idField, "id-field", "id", "JSONL field copied to the output as \"id\" (if present)")
	f.StringVar(&o.backend, "backend", "", "local or http (overrides KNNBRIDGE_EMBED_BACKEND)")
	f.StringVar(&o.modelDir, "model-dir", "", "Hugging Face model directory (overrides KNNBRIDGE_EMBED_MODEL_DIR)")
	f.StringVar(&o.url, "url", "", "embeddings service URL (overrides KNNBRIDGE_EMBED_URL)")
	f.StringVar(&o.model, "model", "", "service model name (overrides KNNBRIDGE_EMBED_MODEL)")
	f.IntVar(&o.batch, "batch-size", 0, "texts per encoder pass / request (overrides KNNBRIDGE_EMBED_BATCH_SIZE)")
	f.IntVar(&o.threads, "threads", 0, "encoder threads (overrides KNNBRIDGE_EMBED_THREADS)")
	f.IntVar(&o.chunk, "chunk", 1024, "texts read before each Embed call (bounds memory on big inputs)")
	return cmd
}

// record is one input text with what identifies it in the output.
type record struct {
	text string
	line int
	id   json.RawMessage
}

func runEmbed(ctx context.Context, cmd *cobra.Command, in string, o embedOpts) error {
	if ctx == nil {
		ctx = context.Background()
	}
	cfg, err := embed.ConfigFromEnv()
	if err != nil {
		return err
	}
	if o.backend != "" {
		cfg.Backend = o.backend
	}
	if o.modelDir != "" {
		cfg.ModelDir = o.modelDir
	}
	if o.url != "" {
		cfg.URL = o.url
	}
	if o.model != "" {
		cfg.Model = o.model
	}
	if o.batch > 0 {
		cfg.BatchSize = o.batch
	}
	if o.threads > 0 {
		cfg.Threads = o.threads
	}
	inFormat := o.inFormat
	if inFormat == "" {
		inFormat = "lines"
		if strings.HasSuffix(in, ".jsonl") || strings.HasSuffix(in, ".ndjson") {
			inFormat = "jsonl"
		}
	}
	outFormat := o.outFormat
	if outFormat == "" {
		outFormat = "jsonl"
		if strings.HasSuffix(o.out, ".npy") {
			outFormat = "npy"
		}
	}
	if inFormat != "lines" && inFormat != "jsonl" {
		return fmt.Errorf("--in-format %q: want lines or jsonl", inFormat)
	}
	if outFormat != "jsonl" && outFormat != "npy" {
		return fmt.Errorf("--out-format %q: want jsonl or npy", outFormat)
	}
	if o.chunk <= 0 {
		o.chunk = 1024
	}

	var r io.Reader = cmd.InOrStdin()
	if in != "-" {
		f, err := os.Open(in)
		if err != nil {
			return fmt.Errorf("input: %w", err)
		}
		defer f.Close()
		r = f
	}
	start := time.Now()
	e, err := embed.New(cfg)
	if err != nil {
		return err
	}
	loaded := time.Since(start)

	var w io.Writer = cmd.OutOrStdout()
	var outFile *os.File
	if o.out != "-" {
		outFile, err = os.Create(o.out)
		if err != nil {
			return fmt.Errorf("output: %w", err)
		}
		defer outFile.Close()
		w = outFile
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	var npy *npyWriter
	if outFormat == "npy" {
		npy = &npyWriter{w: bw, seekable: outFile}
	}

	br := bufio.NewReaderSize(r, 1<<20)
	line, count, dim := 0, 0, 0
	var batch []record
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		texts := make([]string, len(batch))
		for i, rec := range batch {
			texts[i] = rec.text
		}
		vecs, err := e.Embed(ctx, texts)
		if err != nil {
			return fmt.Errorf("embedding input lines %d..%d: %w", batch[0].line, batch[len(batch)-1].line, err)
		}
		for i, v := range vecs {
			if dim == 0 {
				dim = len(v)
			}
			if npy != nil {
				npy.add(v)
				continue
			}
			if err := writeJSONLVector(bw, batch[i], v); err != nil {
				return fmt.Errorf("output: %w", err)
			}
		}
		count += len(batch)
		batch = batch[:0]
		return nil
	}
	for {
		s, rerr := br.ReadString('\n')
		if rerr != nil && rerr != io.EOF {
			return fmt.Errorf("input line %d: %w", line+1, rerr)
		}
		if s == "" && rerr == io.EOF {
			break
		}
		line++
		s = strings.TrimSuffix(strings.TrimSuffix(s, "\n"), "\r")
		rec := record{text: s, line: line}
		if inFormat == "jsonl" {
			if strings.TrimSpace(s) == "" {
				continue
			}
			var obj map[string]json.RawMessage
			if err := json.Unmarshal([]byte(s), &obj); err != nil {
				return fmt.Errorf("input line %d: not a JSON object: %w", line, err)
			}
			raw, ok := obj[o.field]
			if !ok {
				return fmt.Errorf("input line %d: field %q is missing", line, o.field)
			}
			if err := json.Unmarshal(raw, &rec.text); err != nil {
				return fmt.Errorf("input line %d: field %q is not a string: %w", line, o.field, err)
			}
			rec.id = obj[o.idField]
		}
		batch = append(batch, rec)
		if len(batch) >= o.chunk {
			if err := flush(); err != nil {
				return err
			}
		}
		if rerr == io.EOF {
			break
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if npy != nil {
		if err := npy.finish(dim); err != nil {
			return fmt.Errorf("output: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("output: %w", err)
	}
	elapsed := time.Since(start) - loaded
	rate := float64(count) / math.Max(elapsed.Seconds(), 1e-9)
	summary := map[string]any{"texts": count, "dimension": dim, "model": e.ModelName(), "load_seconds": loaded.Seconds(), "embed_seconds": elapsed.Seconds(), "texts_per_second": rate}
	errOut := cmd.ErrOrStderr()
	if outputFormat == "json" {
		return json.NewEncoder(errOut).Encode(summary)
	}
	fmt.Fprintf(errOut, "embedded %d texts (dimension %d, model %s) in %.2fs (%.1f texts/s; model load %.2fs)\n", count, dim, e.ModelName(), elapsed.Seconds(), rate, loaded.Seconds())
	return nil
}

func writeJSONLVector(w *bufio.Writer, rec record, v []float32) error {
	if len(rec.id) > 0 {
		w.WriteString(`{"id":`)
		w.Write(rec.id)
	} else {
		fmt.Fprintf(w, `{"line":%d`, rec.line)
	}
	w.WriteString(`,"embedding":[`)
	var buf []byte
	for i, x := range v {
		if i > 0 {
			w.WriteByte(',')
		}
		// Shortest repr that reads back as the same float32.
		buf = appendFloat32(buf[:0], x)
		w.Write(buf)
	}
	_, err := w.WriteString("]}\n")
	return err
}

// npyWriter writes a float32 (n, d) .npy (format 1.0, little-endian, C
// order). Seekable outputs stream rows and patch the header at the end;
// pipes buffer the rows since the header must state n first.
type npyWriter struct {
	w        *bufio.Writer
	seekable *os.File
	started  bool
	rows     int
	buf      []byte
	dim      int
}

const npyHeaderLen = 128 // fixed, so the row count can be patched in place

func npyHeader(n, d int) []byte {
	dict := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }", n, d)
	h := []byte("\x93NUMPY\x01\x00")
	h = binary.LittleEndian.AppendUint16(h, uint16(npyHeaderLen-10))
	h = append(h, dict...)
	for len(h) < npyHeaderLen-1 {
		h = append(h, ' ')
	}
	return append(h, '\n')
}

func (n *npyWriter) add(v []float32) {
	if n.dim == 0 {
		n.dim = len(v)
	}
	var row []byte
	for _, x := range v {
		row = binary.LittleEndian.AppendUint32(row, math.Float32bits(x))
	}
	if n.seekable != nil {
		if !n.started {
			n.w.Write(npyHeader(0, n.dim)) // placeholder, same length
			n.started = true
		}
		n.w.Write(row)
	} else {
		n.buf = append(n.buf, row...)
	}
	n.rows++
}

func (n *npyWriter) finish(dim int) error {
	if dim == 0 {
		dim = n.dim
	}
	if n.seekable == nil || !n.started {
		if _, err := n.w.Write(npyHeader(n.rows, dim)); err != nil {
			return err
		}
		_, err := n.w.Write(n.buf)
		return err
	}
	if err := n.w.Flush(); err != nil {
		return err
	}
	if _, err := n.seekable.WriteAt(npyHeader(n.rows, dim), 0); err != nil {
		return errors.Join(errors.New("patching the .npy header"), err)
	}
	return nil
}

// appendFloat32 writes the shortest decimal that reads back as x.
func appendFloat32(b []byte, x float32) []byte {
	return strconv.AppendFloat(b, float64(x), 'g', -1, 32)
}
