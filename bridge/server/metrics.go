package server

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/knnbridge/knnbridge/bridge"
)

// metrics are the sidecar's Prometheus series, on a registry of its own
// (not the global one) so that several servers in one process — tests —
// do not collide.
type metrics struct {
	reg *prometheus.Registry

	httpDuration *prometheus.HistogramVec // route, method, status
	inFlight     prometheus.Gauge
	osDuration   *prometheus.HistogramVec // op, outcome
	bulkDocs     *prometheus.CounterVec   // result: accepted, rejected
	bulkRetries  prometheus.Counter
	bulkBytes    prometheus.Counter
	bulkDuration prometheus.Histogram
	embedDur     *prometheus.HistogramVec // model
	embedBatch   *prometheus.HistogramVec // model
	migRunning   prometheus.Gauge
	migRuns      *prometheus.CounterVec // outcome: ready, cancelled, failed
	migDocs      *prometheus.CounterVec // result: copied, already_newer, deleted
}

// Buckets from 1 ms to ~33 s: sidecar answers span cached searches to
// large document batches.
var latencyBuckets = prometheus.ExponentialBuckets(0.001, 2, 16)

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "knnbridge_http_request_duration_seconds", Help: "Sidecar HTTP request latency by route pattern, method and status.",
		Buckets: latencyBuckets,
	}, []string{"route", "method", "status"})
	m.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{Name: "knnbridge_http_in_flight_requests", Help: "Requests being served."})
	m.osDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "knnbridge_opensearch_request_duration_seconds", Help: "Latency of the sidecar's OpenSearch calls by operation and outcome (ok, error, unavailable).",
		Buckets: latencyBuckets,
	}, []string{"op", "outcome"})
	m.bulkDocs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "knnbridge_bulk_documents_total", Help: "Documents sent through _bulk, by result."}, []string{"result"})
	m.bulkRetries = prometheus.NewCounter(prometheus.CounterOpts{Name: "knnbridge_bulk_retries_total", Help: "Bulk items sent again after 429/5xx/transport failures."})
	m.bulkBytes = prometheus.NewCounter(prometheus.CounterOpts{Name: "knnbridge_bulk_bytes_total", Help: "Bytes of _bulk bodies sent (throughput: rate() of this)."})
	m.bulkDuration = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "knnbridge_bulk_request_duration_seconds", Help: "Latency of one _bulk request.", Buckets: latencyBuckets})
	m.embedDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "knnbridge_embed_duration_seconds", Help: "Latency of one embedding call (a batch of texts).", Buckets: latencyBuckets,
	}, []string{"model"})
	m.embedBatch = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "knnbridge_embed_batch_size", Help: "Texts per embedding call.", Buckets: prometheus.ExponentialBuckets(1, 2, 12),
	}, []string{"model"})
	// Migrations: no alias label, like the routes (no index names in the
	// metrics); GET /v1/migrations has the per-migration detail.
	m.migRunning = prometheus.NewGauge(prometheus.GaugeOpts{Name: "knnbridge_migrations_running", Help: "Migration backfill/catch-up runs in progress in this sidecar."})
	m.migRuns = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "knnbridge_migration_runs_total", Help: "Finished migration runs by outcome (ready, cancelled, failed)."}, []string{"outcome"})
	m.migDocs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "knnbridge_migration_documents_total",
		Help: "Documents written to migration targets by result: copied, already_newer (a versioned copy the target already had: resumed pages), deleted (source deletes applied).",
	}, []string{"result"})
	m.reg.MustRegister(m.httpDuration, m.inFlight, m.osDuration, m.bulkDocs, m.bulkRetries, m.bulkBytes, m.bulkDuration, m.embedDur, m.embedBatch,
		m.migRunning, m.migRuns, m.migDocs,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observeOS times one OpenSearch operation.
func (m *metrics) observeOS(op string, start time.Time, err error) {
	m.osDuration.WithLabelValues(op, osOutcome(err)).Observe(time.Since(start).Seconds())
}

func osOutcome(err error) string {
	var be *bridge.Error
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &be):
		return strconv.Itoa(be.Status)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "cancelled"
	case isNetworkError(err):
		return "unavailable"
	}
	return "error"
}
