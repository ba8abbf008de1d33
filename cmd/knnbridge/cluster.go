package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/knnbridge/knnbridge/bridge"
)

// Cluster connection flags, shared by every subcommand that talks to
// OpenSearch. They override the KNNBRIDGE_OPENSEARCH_* environment.
var clusterFlags struct {
	urls     string
	username string
	caFile   string
	insecure bool
	timeout  time.Duration
}

func init() {
	f := rootCmd.PersistentFlags()
	f.StringVar(&clusterFlags.urls, "opensearch-url", "", "OpenSearch URL(s), comma separated (env KNNBRIDGE_OPENSEARCH_URLS or OPENSEARCH_URL)")
	f.StringVar(&clusterFlags.username, "opensearch-user", "", "basic-auth user (password from KNNBRIDGE_OPENSEARCH_PASSWORD only, never a flag)")
	f.StringVar(&clusterFlags.caFile, "opensearch-ca", "", "PEM CA bundle for TLS (default: system roots)")
	f.BoolVar(&clusterFlags.insecure, "opensearch-insecure", false, "skip TLS certificate verification (explicit opt-in)")
	f.DurationVar(&clusterFlags.timeout, "opensearch-timeout", 0, "per-request timeout (default 30s)")
	rootCmd.AddCommand(newClusterCmd())
}

// clusterConfig is the effective OpenSearch configuration: environment,
// then flags.
func clusterConfig() (bridge.Config, error) {
	cfg, err := bridge.ConfigFromEnv()
	if err != nil {
		return cfg, err
	}
	if clusterFlags.urls != "" {
		cfg.URLs = strings.Split(clusterFlags.urls, ",")
	}
	if clusterFlags.username != "" {
		cfg.Username = clusterFlags.username
	}
	if clusterFlags.caFile != "" {
		cfg.CAFile = clusterFlags.caFile
	}
	if clusterFlags.insecure {
		cfg.Insecure = true
	}
	if clusterFlags.timeout > 0 {
		cfg.Timeout = clusterFlags.timeout
	}
	return cfg, nil
}

// newClusterClient builds the bridge client from flags and environment.
func newClusterClient() (*bridge.Client, error) {
	cfg, err := clusterConfig()
	if err != nil {
		return nil, err
	}
	return bridge.NewClient(cfg)
}

// clusterError marks failures to reach or use the cluster (exit code 2).
type clusterError struct{ err error }

func (e clusterError) Error() string { return e.err.Error() }
func (e clusterError) Unwrap() error { return e.err }
func (e clusterError) ExitCode() int { return 2 }

func newClusterCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "cluster", Short: "Inspect the OpenSearch cluster"}
	cmd.AddCommand(&cobra.Command{
		Use:   "info",
		Short: "Print the cluster's version, plugins and what the k-NN engines can do there",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newClusterClient()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			info, err := c.Info(ctx)
			if err != nil {
				return clusterError{err}
			}
			return printClusterInfo(cmd.OutOrStdout(), info)
		},
	})
	return cmd
}

func printClusterInfo(w io.Writer, info bridge.ClusterInfo) error {
	if outputFormat == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(info)
	}
	fmt.Fprintf(w, "cluster      %s at %s\n", info.ClusterName, info.URL)
	fmt.Fprintf(w, "version      %s %s (build %s)\n", info.Distribution, info.Version, info.BuildType)
	fmt.Fprintf(w, "nodes        %d (%d data)\n", info.Nodes, info.DataNodes)
	var ps []string
	for _, p := range info.Plugins {
		ps = append(ps, p.Name+" "+p.Version)
	}
	fmt.Fprintf(w, "plugins      %s\n", strings.Join(ps, ", "))
	engines := "lucene"
	if info.FaissNatives {
		engines = "lucene, faiss, nmslib"
	}
	fmt.Fprintf(w, "k-NN engines %s (faiss natives: %t — %s)\n", engines, info.FaissNatives, info.FaissNativeOK)
	return nil
}
