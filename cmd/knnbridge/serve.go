package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/knnbridge/knnbridge/bridge/server"
	"github.com/knnbridge/knnbridge/native/embed"
)

func init() { rootCmd.AddCommand(newServeCmd()) }

func newServeCmd() *cobra.Command {
	var flags struct {
		listen       string
		logLevel     string
		authDisabled bool
		noEmbedder   bool
		shutdown     time.Duration
	}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the HTTP sidecar (JSON API, metrics, health)",
		Long: `Run the knnbridge sidecar: the HTTP JSON API described in GET /openapi.yaml
(index specs and plans, document ingestion, k-NN / BM25 / hybrid search,
embedding, IVF-PQ training), Prometheus metrics at /metrics, /healthz and
/readyz.

Configuration comes from the environment, flags override:
  KNNBRIDGE_LISTEN_ADDR        host:port (default 127.0.0.1:8080)
  KNNBRIDGE_API_TOKEN          bearer token required on /v1/* (never a flag)
  KNNBRIDGE_AUTH_DISABLED      true: no token (only with a loopback address)
  KNNBRIDGE_METRICS_AUTH       true: /metrics needs the token too
  KNNBRIDGE_MAX_BODY_BYTES     request body limit (default 32 MiB)
  KNNBRIDGE_READ_HEADER_TIMEOUT, _READ_TIMEOUT, _WRITE_TIMEOUT, _IDLE_TIMEOUT
  KNNBRIDGE_REQUEST_TIMEOUT    per request (default 60s; documents/train: _LONG_REQUEST_TIMEOUT 300s)
  KNNBRIDGE_SHUTDOWN_TIMEOUT   grace period for in-flight requests on SIGTERM (30s)
  KNNBRIDGE_LOG_LEVEL          debug, info, warn, error
  KNNBRIDGE_TRAIN_DIR          where POST /v1/train stores codebooks
  KNNBRIDGE_TRAIN_FILE_ROOT    directory POST /v1/train may read vector files from
  KNNBRIDGE_MIGRATION_STATE_INDEX  where /v1/migrations/* keep migration states
                               (default knnbridge-migrations, as for "knnbridge migrate")
  KNNBRIDGE_OPENSEARCH_*       the cluster (see knnbridge --help)
  KNNBRIDGE_EMBED_*            the embedding model (backend, model dir, ...)

SIGTERM or SIGINT stops accepting, lets in-flight requests finish within
the shutdown timeout, stops running migration backfills at a checkpoint
(POST /v1/migrations/{alias}/resume continues them), and exits 0.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := server.ConfigFromEnv()
			if err != nil {
				return err
			}
			if flags.listen != "" {
				cfg.ListenAddr = flags.listen
			}
			if flags.logLevel != "" {
				cfg.LogLevel = flags.logLevel
			}
			if flags.authDisabled {
				cfg.AuthDisabled = true
			}
			if flags.shutdown > 0 {
				cfg.ShutdownTimeout = flags.shutdown
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			log, err := server.NewLogger(cfg.LogLevel)
			if err != nil {
				return err
			}
			defer func() { _ = log.Sync() }()
			client, err := newClusterClient()
			if err != nil {
				return err
			}
			deps := server.Deps{Cluster: client, Logger: log}
			if !flags.noEmbedder {
				ecfg, err := embed.ConfigFromEnv()
				if err != nil {
					return err
				}
				deps.EmbedConfig = ecfg.String()
				deps.LoadEmbedder = func() (embed.Embedder, error) { return embed.New(ecfg) }
			}
			srv, err := server.New(cfg, deps)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			return srv.Run(ctx, func(addr string) {
				// One line on stderr for humans and scripts (the JSON log has it too).
				fmt.Fprintf(os.Stderr, "knnbridge sidecar listening on http://%s\n", addr)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&flags.listen, "listen", "", "listen address host:port (env KNNBRIDGE_LISTEN_ADDR, default 127.0.0.1:8080)")
	f.StringVar(&flags.logLevel, "log-level", "", "log level: debug, info, warn, error (env KNNBRIDGE_LOG_LEVEL)")
	f.BoolVar(&flags.authDisabled, "auth-disabled", false, "serve without a bearer token (loopback listen address only; env KNNBRIDGE_AUTH_DISABLED)")
	f.BoolVar(&flags.noEmbedder, "no-embedder", false, "do not load an embedding model (text must come with vectors)")
	f.DurationVar(&flags.shutdown, "shutdown-timeout", 0, "grace period for in-flight requests on SIGTERM (env KNNBRIDGE_SHUTDOWN_TIMEOUT)")
	return cmd
}
