package server

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"
)

// Config is the sidecar's own configuration (the OpenSearch side is
// bridge.Config, the embedding side embed.Config). Environment variables
// carry the KNNBRIDGE_ prefix, e.g. KNNBRIDGE_LISTEN_ADDR; flags of
// `knnbridge serve` override them.
type Config struct {
	// ListenAddr is host:port to listen on. The default is loopback: a
	// sidecar is reached by the application next to it, not by the world.
	ListenAddr string `envconfig:"LISTEN_ADDR" default:"127.0.0.1:8080"`
	// APIToken is the bearer token every route but /healthz, /readyz and
	// /metrics requires. Never logged.
	APIToken string `envconfig:"API_TOKEN"`
	// AuthDisabled turns the token check off. Accepted only when
	// ListenAddr is a loopback address, so that an unauthenticated sidecar
	// can never be reachable from another machine by accident.
	AuthDisabled bool `envconfig:"AUTH_DISABLED"`
	// MetricsAuth puts /metrics behind the token too. Off by default:
	// Prometheus scrapers usually carry no token, and the metrics hold no
	// index names, documents or credentials (routes are labelled by
	// pattern, e.g. /v1/indexes/{name}/search).
	MetricsAuth bool `envconfig:"METRICS_AUTH"`
	// MaxBodyBytes bounds request bodies (documents included); a larger
	// body is refused with 413 before it is read whole.
	MaxBodyBytes int64 `envconfig:"MAX_BODY_BYTES" default:"33554432"`
	// ReadHeaderTimeout, ReadTimeout, WriteTimeout and IdleTimeout are the
	// net/http server timeouts (slowloris, stuck clients, idle keep-alive).
	ReadHeaderTimeout time.Duration `envconfig:"READ_HEADER_TIMEOUT" default:"10s"`
	ReadTimeout       time.Duration `envconfig:"READ_TIMEOUT" default:"60s"`
	WriteTimeout      time.Duration `envconfig:"WRITE_TIMEOUT" default:"330s"`
	IdleTimeout       time.Duration `envconfig:"IDLE_TIMEOUT" default:"120s"`
	// RequestTimeout bounds the work of one request (cluster calls and
	// embedding included); it is shorter than WriteTimeout so that the
	// timeout error can still be written. Document ingestion and training
	// get LongRequestTimeout.
	RequestTimeout     time.Duration `envconfig:"REQUEST_TIMEOUT" default:"60s"`
	LongRequestTimeout time.Duration `envconfig:"LONG_REQUEST_TIMEOUT" default:"300s"`
	// ShutdownTimeout is how long in-flight requests get to finish after
	// SIGTERM/SIGINT before their contexts are cancelled.
	ShutdownTimeout time.Duration `envconfig:"SHUTDOWN_TIMEOUT" default:"30s"`
	// ReadyTimeout bounds the cluster probe of /readyz.
	ReadyTimeout time.Duration `envconfig:"READY_TIMEOUT" default:"2s"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `envconfig:"LOG_LEVEL" default:"info"`
	// EmbedConcurrency bounds concurrent embedding calls (0: GOMAXPROCS).
	// The local encoder already uses every core for one batch; more
	// concurrent batches only add memory.
	EmbedConcurrency int `envconfig:"EMBED_CONCURRENCY"`
	// TrainDir is where POST /v1/train stores codebooks (faiss format).
	TrainDir string `envconfig:"TRAIN_DIR" default:".cache/codebooks"`
	// TrainFileRoot, when set, is the only directory POST /v1/train may
	// read vector files from ("file" source). Empty: the file source is
	// refused, so that an API client cannot make the sidecar read
	// arbitrary files.
	TrainFileRoot string `envconfig:"TRAIN_FILE_ROOT"`
	// MigrationStateIndex holds migration states (the CLI's --state-index):
	// the same index as `knnbridge migrate`, so both see one migration.
	MigrationStateIndex string `envconfig:"MIGRATION_STATE_INDEX" default:"knnbridge-migrations"`
}

// ConfigFromEnv reads Config from KNNBRIDGE_* variables.
func ConfigFromEnv() (Config, error) {
	var c Config
	if err := envconfig.Process("KNNBRIDGE", &c); err != nil {
		return c, fmt.Errorf("reading KNNBRIDGE_* sidecar configuration: %w", err)
	}
	return c, nil
}

// Validate checks the configuration; every error names the variable.
func (c Config) Validate() error {
	var errs []error
	host, _, err := net.SplitHostPort(c.ListenAddr)
	if err != nil {
		errs = append(errs, fmt.Errorf("KNNBRIDGE_LISTEN_ADDR %q: %w", c.ListenAddr, err))
	}
	switch {
	case c.AuthDisabled && err == nil && !IsLoopback(host):
		errs = append(errs, fmt.Errorf("KNNBRIDGE_AUTH_DISABLED=true needs a loopback KNNBRIDGE_LISTEN_ADDR (127.0.0.1, ::1, localhost), got %q: an unauthenticated sidecar must not be reachable from other machines", c.ListenAddr))
	case !c.AuthDisabled && c.APIToken == "":
		errs = append(errs, errors.New("KNNBRIDGE_API_TOKEN is required (or KNNBRIDGE_AUTH_DISABLED=true with a loopback listen address)"))
	case !c.AuthDisabled && len(c.APIToken) < 16:
		errs = append(errs, fmt.Errorf("KNNBRIDGE_API_TOKEN is %d characters: use at least 16 (e.g. `openssl rand -hex 32`)", len(c.APIToken)))
	}
	if c.MaxBodyBytes <= 0 {
		errs = append(errs, fmt.Errorf("KNNBRIDGE_MAX_BODY_BYTES must be > 0, got %d", c.MaxBodyBytes))
	}
	for name, d := range map[string]time.Duration{
		"KNNBRIDGE_READ_HEADER_TIMEOUT": c.ReadHeaderTimeout, "KNNBRIDGE_READ_TIMEOUT": c.ReadTimeout,
		"KNNBRIDGE_WRITE_TIMEOUT": c.WriteTimeout, "KNNBRIDGE_IDLE_TIMEOUT": c.IdleTimeout,
		"KNNBRIDGE_REQUEST_TIMEOUT": c.RequestTimeout, "KNNBRIDGE_LONG_REQUEST_TIMEOUT": c.LongRequestTimeout,
		"KNNBRIDGE_SHUTDOWN_TIMEOUT": c.ShutdownTimeout, "KNNBRIDGE_READY_TIMEOUT": c.ReadyTimeout,
	} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be > 0, got %s", name, d))
		}
	}
	if c.WriteTimeout > 0 && c.LongRequestTimeout >= c.WriteTimeout {
		errs = append(errs, fmt.Errorf("KNNBRIDGE_LONG_REQUEST_TIMEOUT (%s) must be below KNNBRIDGE_WRITE_TIMEOUT (%s) so the timeout error can still be written", c.LongRequestTimeout, c.WriteTimeout))
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		errs = append(errs, fmt.Errorf("KNNBRIDGE_LOG_LEVEL: %w", err))
	}
	return errors.Join(errs...)
}

// IsLoopback reports whether host (from a listen address) only accepts
// connections from this machine. An empty host ("":8080) listens on every
// interface, so it is not loopback.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && ip.IsLoopback()
}

// String renders the configuration for the start-up log with the token
// masked.
func (c Config) String() string {
	tok := "(none)"
	if c.APIToken != "" {
		tok = "***"
	}
	return fmt.Sprintf("listen=%s token=%s auth_disabled=%t metrics_auth=%t max_body=%d read_header_timeout=%s read_timeout=%s write_timeout=%s idle_timeout=%s request_timeout=%s long_request_timeout=%s shutdown_timeout=%s log_level=%s train_dir=%q train_file_root=%q migration_state_index=%q",
		c.ListenAddr, tok, c.AuthDisabled, c.MetricsAuth, c.MaxBodyBytes, c.ReadHeaderTimeout, c.ReadTimeout, c.WriteTimeout, c.IdleTimeout,
		c.RequestTimeout, c.LongRequestTimeout, c.ShutdownTimeout, c.LogLevel, c.TrainDir, c.TrainFileRoot, c.MigrationStateIndex)
}
