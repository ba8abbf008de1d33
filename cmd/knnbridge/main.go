// Command knnbridge is the CLI and sidecar of knnbridge. Each subcommand
// lives in its own file and registers itself on rootCmd in an init func;
// the commands stay thin and call into bridge/ and the domain packages.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

var rootCmd = &cobra.Command{
	Use:           "knnbridge",
	Short:         "Embeddings, IVF-PQ training, k-NN mappings, lossless loading and hybrid search for OpenSearch k-NN",
	SilenceUsage:  true,
	SilenceErrors: true,
}

// outputFormat is the global -o flag: "table" (readable) or "json".
var outputFormat string

func init() {
	rootCmd.PersistentFlags().StringVarP(&outputFormat, "output", "o", "table", "output format: table or json")
	rootCmd.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "Print the knnbridge version",
		Run:   func(cmd *cobra.Command, _ []string) { fmt.Fprintln(cmd.OutOrStdout(), version) },
	})
}

// exitCoder lets a command choose the process exit code (for example 3 for
// "plan needs a reindex") while still returning an ordinary error.
type exitCoder interface{ ExitCode() int }

func main() {
	if err := rootCmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "knnbridge:", err)
		if ec, ok := err.(exitCoder); ok {
			os.Exit(ec.ExitCode())
		}
		os.Exit(1)
	}
}
