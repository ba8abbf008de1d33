package embed

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"
)

// Config chooses and sets up an Embedder. Environment: prefix
// KNNBRIDGE_EMBED_ (KNNBRIDGE_EMBED_BACKEND, _MODEL_DIR, _URL, _API_KEY,
// _MODEL, _BATCH_SIZE, _THREADS, _TIMEOUT, _MAX_RETRIES, _DIMENSION).
type Config struct {
	// Backend is "local" (in-process BERT) or "http" (OpenAI-compatible).
	Backend string `envconfig:"BACKEND" default:"local"`
	// ModelDir is a Hugging Face / sentence-transformers snapshot
	// directory (local). Empty: the cache that `make model` fills,
	// $KNNBRIDGE_CACHE_DIR/models/all-MiniLM-L6-v2 (default .cache).
	ModelDir string `envconfig:"MODEL_DIR"`
	// URL of the embeddings service (http).
	URL string `envconfig:"URL"`
	// APIKey is sent as a bearer token (http). Never logged or printed.
	APIKey string `envconfig:"API_KEY"`
	// Model is the service's model name (http), required there.
	Model string `envconfig:"MODEL"`
	// BatchSize is texts per encoder pass (local) or per request (http).
	BatchSize int `envconfig:"BATCH_SIZE" default:"32"`
	// Threads for the local encoder (0: GOMAXPROCS).
	Threads int `envconfig:"THREADS"`
	// Timeout per HTTP attempt.
	Timeout time.Duration `envconfig:"TIMEOUT" default:"30s"`
	// MaxRetries per HTTP request (retryable failures only).
	MaxRetries int `envconfig:"MAX_RETRIES" default:"3"`
	// Dimension expected from the service (0: learn it).
	Dimension int `envconfig:"DIMENSION"`
}

// String shows the configuration with the API key redacted.
func (c Config) String() string {
	c2 := c
	if c2.APIKey != "" {
		c2.APIKey = "REDACTED"
	}
	type plain Config
	return fmt.Sprintf("%+v", plain(c2))
}

// ConfigFromEnv reads KNNBRIDGE_EMBED_* variables.
func ConfigFromEnv() (Config, error) {
	var c Config
	if err := envconfig.Process("KNNBRIDGE_EMBED", &c); err != nil {
		return c, fmt.Errorf("embed config: %w", err)
	}
	return c, nil
}

// DefaultModelDir is where `make model` puts all-MiniLM-L6-v2.
func DefaultModelDir() string {
	cache := os.Getenv("KNNBRIDGE_CACHE_DIR")
	if cache == "" {
		cache = ".cache"
	}
	return filepath.Join(cache, "models", "all-MiniLM-L6-v2")
}

// New builds the Embedder that c describes.
func New(c Config) (Embedder, error) {
	if c.BatchSize < 0 || c.Threads < 0 || c.MaxRetries < 0 || c.Dimension < 0 {
		return nil, errors.New("embed config: KNNBRIDGE_EMBED_BATCH_SIZE, _THREADS, _MAX_RETRIES and _DIMENSION must not be negative")
	}
	switch strings.ToLower(c.Backend) {
	case "", "local":
		dir := c.ModelDir
		if dir == "" {
			dir = DefaultModelDir()
			if _, err := os.Stat(filepath.Join(dir, "config.json")); err != nil {
				return nil, fmt.Errorf("embed config: KNNBRIDGE_EMBED_MODEL_DIR is not set and %s has no model (run `make model` or point it at a Hugging Face snapshot directory)", dir)
			}
		}
		l, err := NewLocal(dir, c.BatchSize, c.Threads)
		if err != nil {
			return nil, err
		}
		if c.Dimension != 0 && c.Dimension != l.Dimension() {
			return nil, fmt.Errorf("embed config: KNNBRIDGE_EMBED_DIMENSION=%d but the model in %s has dimension %d", c.Dimension, dir, l.Dimension())
		}
		return l, nil
	case "http":
		h, err := NewHTTP(c.URL, c.APIKey, c.Model, c.Dimension)
		if err != nil {
			return nil, err
		}
		h.BatchSize = c.BatchSize
		h.Timeout = c.Timeout
		h.MaxRetries = c.MaxRetries
		if c.MaxRetries == 0 {
			h.MaxRetries = -1 // explicit 0 from the environment: no retries
		}
		return h, nil
	default:
		return nil, fmt.Errorf("embed config: KNNBRIDGE_EMBED_BACKEND=%q: want local or http", c.Backend)
	}
}
