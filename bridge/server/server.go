// Package server is knnbridge's HTTP sidecar: the JSON API described in
// openapi.yaml (index specs and plans, document ingestion, k-NN / BM25 /
// hybrid search, embedding, IVF-PQ training), bearer-token auth, request
// ids, zap JSON logs, Prometheus metrics, health and readiness, and a
// graceful shutdown. It drives OpenSearch through bridge.Client and does
// the domain work with mapping, ingest, queries and pq.
package server

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/sync/semaphore"

	"github.com/knnbridge/knnbridge/bridge"
	"github.com/knnbridge/knnbridge/mapping"
	"github.com/knnbridge/knnbridge/native/embed"
)

// Deps are what the server drives.
type Deps struct {
	// Cluster is the OpenSearch client. Required.
	Cluster *bridge.Client
	// LoadEmbedder builds the embedder; it is called once, in the
	// background, when the server starts, so that /healthz answers while a
	// model loads. nil: no embedder (text-only documents and text queries
	// are refused with 503 embedder_unavailable).
	LoadEmbedder func() (embed.Embedder, error)
	// Logger for JSON logs; nil builds one at Config.LogLevel.
	Logger *zap.Logger
	// EmbedConfig describes the embedder configuration (secrets masked)
	// for the one start-up configuration line.
	EmbedConfig string
}

// Server is the sidecar. Build it with New, serve with Run (or Handler
// for tests that bring their own listener).
type Server struct {
	cfg     Config
	os      *bridge.Client
	log     *zap.Logger
	m       *metrics
	handler http.Handler

	embedMu   sync.RWMutex
	embedder  embed.Embedder
	embedErr  error
	embedOnce sync.Once
	loadEmb   func() (embed.Embedder, error)
	embedSem  *semaphore.Weighted
	queries   *queryBatcher
	embedCfg  string

	draining atomic.Bool

	verMu   sync.Mutex
	version mapping.Version
	verAt   time.Time

	schemas  schemaCache
	searcher *bridge.Searcher

	mig *migrationRegistry
}

// New validates cfg and builds the server. It does not contact the
// cluster or load the model yet.
func New(cfg Config, deps Deps) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Cluster == nil {
		return nil, errors.New("server: no OpenSearch client")
	}
	log := deps.Logger
	if log == nil {
		var err error
		if log, err = NewLogger(cfg.LogLevel); err != nil {
			return nil, err
		}
	}
	n := cfg.EmbedConcurrency
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	s := &Server{cfg: cfg, os: deps.Cluster, log: log, m: newMetrics(), loadEmb: deps.LoadEmbedder, embedSem: semaphore.NewWeighted(int64(n)), embedCfg: deps.EmbedConfig}
	s.schemas.ttl = 30 * time.Second
	s.queries = newQueryBatcher(s, n, 64)
	s.searcher = bridge.NewSearcher(deps.Cluster)
	s.mig = newMigrationRegistry()
	s.handler = s.routes()
	return s, nil
}

// NewLogger builds the sidecar's JSON logger at level (debug, info, warn,
// error).
func NewLogger(level string) (*zap.Logger, error) {
	lv, err := parseLevel(level)
	if err != nil {
		return nil, err
	}
	zc := zap.NewProductionConfig()
	zc.Level = zap.NewAtomicLevelAt(lv)
	zc.EncoderConfig.TimeKey = "ts"
	zc.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	zc.Sampling = nil // every request line counts; volume is bounded by the request rate
	return zc.Build()
}

func parseLevel(s string) (zapcore.Level, error) {
	var lv zapcore.Level
	if err := lv.UnmarshalText([]byte(strings.ToLower(s))); err != nil {
		return lv, fmt.Errorf("unknown log level %q (debug, info, warn, error)", s)
	}
	return lv, nil
}

// Handler is the server's http.Handler (auth, ids, logs and metrics
// included).
func (s *Server) Handler() http.Handler { return s.handler }

// StartBackground starts what the server loads in the background (the
// embedding model). Run calls it; tests using Handler call it themselves.
func (s *Server) StartBackground() {
	s.embedOnce.Do(func() {
		if s.loadEmb == nil {
			s.embedMu.Lock()
			s.embedErr = errors.New("no embedder configured")
			s.embedMu.Unlock()
			return
		}
		go func() {
			start := time.Now()
			e, err := s.loadEmb()
			s.embedMu.Lock()
			s.embedder, s.embedErr = e, err
			s.embedMu.Unlock()
			if err != nil {
				s.log.Error("embedder not loaded: text embedding is unavailable", zap.Error(err))
				return
			}
			s.log.Info("embedder loaded", zap.String("model", e.ModelName()), zap.Int("dimension", e.Dimension()), zap.Duration("took", time.Since(start)))
		}()
	})
}

// Run listens on cfg.ListenAddr and serves until ctx is cancelled
// (SIGTERM/SIGINT in `knnbridge serve`), then shuts down gracefully: stop
// accepting, answer /readyz 503, let in-flight requests finish for up to
// ShutdownTimeout, then cancel what is left. ready, if not nil, receives
// the bound address once listening.
func (s *Server) Run(ctx context.Context, ready func(addr string)) error {
	ln, err := net.Listen("tcp", s.cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("listening on %s (KNNBRIDGE_LISTEN_ADDR): %w", s.cfg.ListenAddr, err)
	}
	return s.Serve(ctx, ln, ready)
}

// Serve is Run on an existing listener.
func (s *Server) Serve(ctx context.Context, ln net.Listener, ready func(addr string)) error {
	s.log.Info("configuration", zap.String("sidecar", s.cfg.String()), zap.String("opensearch", s.os.Config().String()), zap.String("embed", s.embedCfg))
	s.StartBackground()
	// Request contexts derive from base, which outlives Shutdown's grace
	// period: in-flight requests keep their cluster calls until they finish
	// or the deadline passes, and only then are they cancelled.
	base, cancelBase := context.WithCancel(context.Background())
	defer cancelBase()
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return base },
		ErrorLog:          zap.NewStdLog(s.log.Named("http")),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	s.log.Info("listening", zap.String("addr", ln.Addr().String()), zap.Bool("auth", !s.cfg.AuthDisabled))
	if ready != nil {
		ready(ln.Addr().String())
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	s.draining.Store(true)
	s.log.Info("shutting down: finishing in-flight requests", zap.Duration("deadline", s.cfg.ShutdownTimeout))
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	// Background migration runs stop at a checkpoint (resume continues
	// them) while the in-flight requests finish.
	migDone := make(chan error, 1)
	go func() { migDone <- s.StopMigrations(sctx) }()
	err := hs.Shutdown(sctx)
	if merr := <-migDone; merr != nil {
		s.log.Warn("shutdown deadline passed with migration runs still stopping; their last saved checkpoint stands", zap.Error(merr))
	}
	if err != nil {
		s.log.Warn("shutdown deadline passed: cancelling the requests still running", zap.Error(err))
		cancelBase()
		_ = hs.Close()
	}
	s.log.Info("stopped")
	_ = s.log.Sync() // flush; metrics are pulled, nothing to push
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// route registers a handler under a ServeMux pattern; long routes get
// the long request timeout.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	api := func(pattern string, long bool, h handlerFunc) {
		mux.Handle(pattern, s.wrap(true, long, h))
	}
	open := func(pattern string, h handlerFunc) { mux.Handle(pattern, s.wrap(false, false, h)) }

	open("GET /healthz", s.healthz)
	open("GET /readyz", s.readyz)
	if s.cfg.MetricsAuth {
		mux.Handle("GET /metrics", s.wrap(true, false, s.metricsHandler()))
	} else {
		open("GET /metrics", s.metricsHandler())
	}
	open("GET /openapi.yaml", serveOpenAPI)

	api("PUT /v1/indexes/{name}", false, s.putIndex)
	api("GET /v1/indexes/{name}", false, s.getIndex)
	api("POST /v1/indexes/{name}/documents", true, s.postDocuments)
	api("POST /v1/indexes/{name}/search", false, s.searchIndex)
	api("POST /v1/search", false, s.searchMulti)
	api("POST /v1/embed", false, s.postEmbed)
	api("POST /v1/train", true, s.postTrain)
	// Migrations (migrations.go): start and resume answer 202 and run in
	// the background; verify, cutover and rollback copy and wait, so they
	// get the long timeout.
	api("GET /v1/migrations", false, s.listMigrations)
	api("POST /v1/migrations/{name}/plan", false, s.postMigrationPlan)
	api("POST /v1/migrations/{name}", false, s.postMigration)
	api("GET /v1/migrations/{name}", false, s.getMigration)
	api("POST /v1/migrations/{name}/resume", false, s.postMigrationResume)
	api("POST /v1/migrations/{name}/cancel", false, s.postMigrationCancel)
	api("POST /v1/migrations/{name}/verify", true, s.postMigrationVerify)
	api("POST /v1/migrations/{name}/cutover", true, s.postMigrationCutover)
	api("POST /v1/migrations/{name}/rollback", true, s.postMigrationRollback)
	api("POST /v1/migrations/{name}/cleanup", false, s.postMigrationCleanup)
	// Everything else: a JSON 404 (or 405), never the default text page.
	mux.Handle("/", s.wrap(false, false, func(w http.ResponseWriter, r *http.Request) error {
		return &APIError{Status: http.StatusNotFound, Code: "no_route", Message: fmt.Sprintf("no route %s %s (see GET /openapi.yaml)", r.Method, r.URL.Path)}
	}))
	return mux
}

func (s *Server) metricsHandler() handlerFunc {
	h := promhttp.HandlerFor(s.m.reg, promhttp.HandlerOpts{})
	return func(w http.ResponseWriter, r *http.Request) error { h.ServeHTTP(w, r); return nil }
}

type ctxKey int

const (
	keyLogger ctxKey = iota
	keyRequestID
)

// logger returns the request's logger (with its request id).
func (s *Server) logger(ctx context.Context) *zap.Logger {
	if l, ok := ctx.Value(keyLogger).(*zap.Logger); ok {
		return l
	}
	return s.log
}

// RequestIDHeader carries the request id both ways: a caller's id (if
// sane) is kept so its logs and ours line up; otherwise one is made.
const RequestIDHeader = "X-Request-Id"

func requestID(r *http.Request) string {
	if id := r.Header.Get(RequestIDHeader); id != "" && len(id) <= 128 && printableASCII(id) {
		return id
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// statusWriter records the status and size written.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// wrap is the middleware every route goes through, in this order:
// request id, in-flight gauge, panic recovery, auth, body limit, request
// timeout, the handler, error rendering, access log, latency histogram.
func (s *Server) wrap(auth, long bool, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := requestID(r)
		w.Header().Set(RequestIDHeader, id)
		log := s.log.With(zap.String("request_id", id))
		ctx := context.WithValue(context.WithValue(r.Context(), keyLogger, log), keyRequestID, id)
		sw := &statusWriter{ResponseWriter: w}
		s.m.inFlight.Inc()
		defer s.m.inFlight.Dec()

		var err error
		func() {
			defer func() {
				if p := recover(); p != nil {
					if p == http.ErrAbortHandler {
						panic(p)
					}
					log.Error("panic in handler", zap.Any("panic", p), zap.Stack("stack"))
					err = fmt.Errorf("panic: %v", p)
				}
			}()
			if auth && !s.cfg.AuthDisabled {
				if aerr := s.checkToken(r); aerr != nil {
					err = aerr
					return
				}
			}
			if r.Body != nil {
				r.Body = http.MaxBytesReader(sw, r.Body, s.cfg.MaxBodyBytes)
			}
			timeout := s.cfg.RequestTimeout
			if long {
				timeout = s.cfg.LongRequestTimeout
			}
			tctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			err = h(sw, r.WithContext(tctx))
		}()
		if err != nil {
			ae := toAPIError(err)
			if ae.Status == http.StatusInternalServerError || ae.Status >= 502 {
				log.Error("request failed", zap.Int("status", ae.Status), zap.String("code", ae.Code), zap.Error(err))
			}
			if sw.status == 0 {
				writeError(sw, ae)
			}
			if sw.status == 0 { // the client is gone and nothing was written
				sw.status = ae.Status
			}
		}
		route := routeLabel(r)
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		d := time.Since(start)
		s.m.httpDuration.WithLabelValues(route, r.Method, strconv.Itoa(status)).Observe(d.Seconds())
		lvl := zap.InfoLevel
		if route == "GET /healthz" || route == "GET /readyz" || route == "GET /metrics" {
			lvl = zap.DebugLevel // probes every few seconds would drown the log
		}
		if ce := log.Check(lvl, "request"); ce != nil {
			ce.Write(zap.String("method", r.Method), zap.String("route", route), zap.String("path", r.URL.Path),
				zap.Int("status", status), zap.Int64("bytes", sw.bytes), zap.Duration("took", d), zap.String("remote", r.RemoteAddr))
		}
	})
}

// routeLabel is the ServeMux pattern ("POST /v1/indexes/{name}/search"):
// bounded cardinality, and no index names in the metrics.
func routeLabel(r *http.Request) string {
	if r.Pattern == "" || r.Pattern == "/" {
		return "other"
	}
	return r.Pattern
}

// checkToken compares the bearer token in constant time
// (subtle.ConstantTimeCompare returns early only on a length mismatch,
// which reveals the token's length and nothing of its content).
func (s *Server) checkToken(r *http.Request) *APIError {
	h := r.Header.Get("Authorization")
	const prefix = "Bearer "
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return &APIError{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "missing bearer token (Authorization: Bearer <KNNBRIDGE_API_TOKEN>)"}
	}
	if subtle.ConstantTimeCompare([]byte(strings.TrimSpace(h[len(prefix):])), []byte(s.cfg.APIToken)) != 1 {
		return &APIError{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "invalid bearer token"}
	}
	return nil
}

// getEmbedder returns the loaded embedder or a 503.
func (s *Server) getEmbedder() (embed.Embedder, error) {
	s.embedMu.RLock()
	defer s.embedMu.RUnlock()
	if s.embedder != nil {
		return s.embedder, nil
	}
	if s.embedErr != nil {
		return nil, unavailable("embedder_unavailable", "no embedding model: %v (set KNNBRIDGE_EMBED_MODEL_DIR, run `make model`, or send vectors)", s.embedErr)
	}
	return nil, unavailable("embedder_loading", "the embedding model is still loading; retry shortly")
}

// embedderReady returns the embedder once loaded (nil before).
func (s *Server) embedderReady() embed.Embedder {
	s.embedMu.RLock()
	defer s.embedMu.RUnlock()
	return s.embedder
}

// embed runs the embedder with the concurrency bound and metrics.
func (s *Server) embed(ctx context.Context, texts []string) ([][]float32, error) {
	e, err := s.getEmbedder()
	if err != nil {
		return nil, err
	}
	if err := s.embedSem.Acquire(ctx, 1); err != nil {
		return nil, err
	}
	defer s.embedSem.Release(1)
	start := time.Now()
	out, err := e.Embed(ctx, texts)
	if err != nil {
		return nil, fmt.Errorf("embedding %d texts with %s: %w", len(texts), e.ModelName(), err)
	}
	s.m.embedDur.WithLabelValues(e.ModelName()).Observe(time.Since(start).Seconds())
	s.m.embedBatch.WithLabelValues(e.ModelName()).Observe(float64(len(texts)))
	return out, nil
}

// embedAdapter lets ingest use the server's instrumented embedding.
type embedAdapter struct {
	s   *Server
	dim int
}

func (a embedAdapter) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	return a.s.embed(ctx, texts)
}
func (a embedAdapter) Dimension() int { return a.dim }

// clusterVersion is cached: it changes only with a rolling upgrade, and
// asking on every search would triple the calls. Refreshed every 5 min.
func (s *Server) clusterVersion(ctx context.Context) (mapping.Version, error) {
	s.verMu.Lock()
	defer s.verMu.Unlock()
	if s.version.Major != 0 && time.Since(s.verAt) < 5*time.Minute {
		return s.version, nil
	}
	start := time.Now()
	v, err := s.os.ClusterVersion(ctx)
	s.m.observeOS("info", start, err)
	if err != nil {
		return v, err
	}
	s.version, s.verAt = v, time.Now()
	return v, nil
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// readyz: the cluster answers and the embedding model is loaded (when one
// is configured). 503 with the reasons otherwise, and while draining.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	type check struct {
		OK     bool   `json:"ok"`
		Detail string `json:"detail,omitempty"`
	}
	checks := map[string]check{}
	ready := true
	if s.draining.Load() {
		checks["shutdown"] = check{OK: false, Detail: "draining: the server is shutting down"}
		ready = false
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.ReadyTimeout)
	defer cancel()
	start := time.Now()
	_, err := s.os.Do(ctx, http.MethodGet, "/_cluster/health?filter_path=status", nil)
	s.m.observeOS("health", start, err)
	if err != nil {
		checks["cluster"] = check{OK: false, Detail: err.Error()}
		ready = false
	} else {
		checks["cluster"] = check{OK: true}
	}
	if s.loadEmb != nil {
		s.embedMu.RLock()
		e, eerr := s.embedder, s.embedErr
		s.embedMu.RUnlock()
		switch {
		case e != nil:
			checks["model"] = check{OK: true, Detail: e.ModelName()}
		case eerr != nil:
			checks["model"] = check{OK: false, Detail: eerr.Error()}
			ready = false
		default:
			checks["model"] = check{OK: false, Detail: "loading"}
			ready = false
		}
	}
	status := http.StatusOK
	if !ready {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, map[string]any{"ready": ready, "checks": checks})
	return nil
}
