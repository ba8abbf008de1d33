package bridge

import (
	"fmt"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"
)

// EnvPrefix is the prefix of every environment variable knnbridge reads.
const EnvPrefix = "KNNBRIDGE"

// Config says how to reach OpenSearch. It is read from KNNBRIDGE_*
// environment variables (see ConfigFromEnv); CLI flags override fields.
type Config struct {
	// URLs of one or more nodes; requests are spread over them.
	URLs []string `envconfig:"OPENSEARCH_URLS" default:"http://127.0.0.1:9200"`
	// Username and Password enable HTTP basic auth when Username is set.
	Username string `envconfig:"OPENSEARCH_USERNAME"`
	Password string `envconfig:"OPENSEARCH_PASSWORD"`
	// CAFile is a PEM bundle that replaces the system roots for TLS.
	CAFile string `envconfig:"OPENSEARCH_CA_FILE"`
	// Insecure disables TLS certificate verification. It must be asked for
	// explicitly; the default verifies.
	Insecure bool `envconfig:"OPENSEARCH_INSECURE"`
	// Timeout bounds each attempt of each request (connect, send, and wait
	// for the response headers).
	Timeout time.Duration `envconfig:"OPENSEARCH_TIMEOUT" default:"30s"`
	// MaxRetries is how often a request answered 429/502/503/504, or
	// failing on the network, is tried again (with exponential backoff).
	MaxRetries int `envconfig:"OPENSEARCH_MAX_RETRIES" default:"3"`
	// RetryBackoff is the first backoff; it doubles each retry, with jitter,
	// up to MaxBackoff.
	RetryBackoff time.Duration `envconfig:"OPENSEARCH_RETRY_BACKOFF" default:"200ms"`
	MaxBackoff   time.Duration `envconfig:"OPENSEARCH_MAX_BACKOFF" default:"10s"`
}

// ConfigFromEnv reads Config from KNNBRIDGE_OPENSEARCH_* variables. As a
// convenience OPENSEARCH_URL (what the tests use) is honoured when
// KNNBRIDGE_OPENSEARCH_URLS is unset.
func ConfigFromEnv() (Config, error) {
	var c Config
	if err := envconfig.Process(EnvPrefix, &c); err != nil {
		return c, fmt.Errorf("reading %s_OPENSEARCH_* configuration: %w", EnvPrefix, err)
	}
	if u := lookupEnv("OPENSEARCH_URL"); u != "" && lookupEnv(EnvPrefix+"_OPENSEARCH_URLS") == "" {
		c.URLs = splitURLs(u)
	}
	return c, nil
}

func splitURLs(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// String renders the configuration for logs with the password masked.
func (c Config) String() string {
	pw := ""
	if c.Password != "" {
		pw = "***"
	}
	return fmt.Sprintf("urls=%v user=%q password=%s ca_file=%q insecure=%t timeout=%s max_retries=%d",
		c.URLs, c.Username, pw, c.CAFile, c.Insecure, c.Timeout, c.MaxRetries)
}
