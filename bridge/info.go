package bridge

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// ClusterInfo is what knnbridge needs to know about a cluster before it
// chooses mappings, request shapes and concurrency.
type ClusterInfo struct {
	URL           string   `json:"url"`
	ClusterName   string   `json:"cluster_name"`
	Version       string   `json:"version"`
	Distribution  string   `json:"distribution"`
	BuildType     string   `json:"build_type"`
	Plugins       []Plugin `json:"plugins"`
	Nodes         int      `json:"nodes"`
	DataNodes     int      `json:"data_nodes"`
	KNNInstalled  bool     `json:"knn_installed"`
	FaissNatives  bool     `json:"faiss_natives"`
	FaissNativeOK string   `json:"faiss_natives_reason"`
}

// Plugin is one installed plugin (per distinct name; nodes agree here).
type Plugin struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Major returns the major version number (0 when unknown).
func (i ClusterInfo) Major() int {
	m, _ := strconv.Atoi(strings.SplitN(i.Version, ".", 2)[0])
	return m
}

// Info asks the cluster who it is: version, plugins, node counts, and
// whether the k-NN plugin's faiss/nmslib native libraries can be expected.
//
// The natives cannot be queried: the plugin loads them lazily at the first
// native graph build, and on a node without them that build is a fatal
// UnsatisfiedLinkError that stops the node. We therefore infer: the
// Maven Central integ-test zip (build_type "zip") ships without natives
// (k-NN #2643); the official tar/deb/rpm/docker distributions bundle them.
// KNNBRIDGE_FAISS_NATIVES=true|false overrides the guess.
func (c *Client) Info(ctx context.Context) (ClusterInfo, error) {
	info := ClusterInfo{URL: strings.Join(c.cfg.URLs, ",")}
	var root struct {
		ClusterName string `json:"cluster_name"`
		Version     struct {
			Distribution string `json:"distribution"`
			Number       string `json:"number"`
			BuildType    string `json:"build_type"`
		} `json:"version"`
	}
	if err := c.DoJSON(ctx, http.MethodGet, "/", nil, &root); err != nil {
		return info, err
	}
	info.ClusterName = root.ClusterName
	info.Version = root.Version.Number
	info.Distribution = root.Version.Distribution
	info.BuildType = root.Version.BuildType

	var plugins []struct {
		Component string `json:"component"`
		Version   string `json:"version"`
	}
	if err := c.DoJSON(ctx, http.MethodGet, "/_cat/plugins?format=json", nil, &plugins); err != nil {
		return info, fmt.Errorf("listing plugins: %w", err)
	}
	seen := map[string]bool{}
	for _, p := range plugins {
		if !seen[p.Component] {
			seen[p.Component] = true
			info.Plugins = append(info.Plugins, Plugin{Name: p.Component, Version: p.Version})
		}
	}
	sort.Slice(info.Plugins, func(a, b int) bool { return info.Plugins[a].Name < info.Plugins[b].Name })
	info.KNNInstalled = seen["opensearch-knn"]

	var nodes []struct {
		Role string `json:"node.role"`
	}
	if err := c.DoJSON(ctx, http.MethodGet, "/_cat/nodes?format=json&h=node.role", nil, &nodes); err != nil {
		return info, fmt.Errorf("listing nodes: %w", err)
	}
	info.Nodes = len(nodes)
	for _, n := range nodes {
		if strings.Contains(n.Role, "d") {
			info.DataNodes++
		}
	}

	switch v := strings.ToLower(lookupEnv(EnvPrefix + "_FAISS_NATIVES")); {
	case v == "true" || v == "1":
		info.FaissNatives, info.FaissNativeOK = true, "KNNBRIDGE_FAISS_NATIVES=true"
	case v == "false" || v == "0":
		info.FaissNatives, info.FaissNativeOK = false, "KNNBRIDGE_FAISS_NATIVES=false"
	case !info.KNNInstalled:
		info.FaissNativeOK = "k-NN plugin not installed"
	case info.BuildType == "zip":
		info.FaissNativeOK = "build_type zip: the Maven Central distribution, whose k-NN zip lacks lib/*.so (k-NN #2643)"
	default:
		info.FaissNatives = true
		info.FaissNativeOK = "build_type " + info.BuildType + ": official distributions bundle the k-NN natives"
	}
	return info, nil
}
