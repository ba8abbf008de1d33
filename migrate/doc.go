// Package migrate is the domain logic of a zero-downtime index migration
// (engine, method parameters, space, quantization or embedding model):
// planning, the phase state machine, the per-document transform (copy or
// re-embed), the versioned bulk encoding, the request bodies, and the
// verification math. It does no network I/O; bridge/migrate*.go executes it.
//
// # How writes during the backfill are caught
//
// knnbridge does not dual-write. It copies by _seq_no, with versioned writes:
//
//   - Every document in a shard carries the _seq_no of the last operation that
//     wrote it, and _seq_no grows monotonically per shard (OpenSearch
//     sequence numbers; the primary term grows on fail-over). So for one
//     document, (primary_term, seq_no) orders its versions.
//   - The backfill reads the source through a point-in-time, one slice per
//     shard (slice max = number of shards maps slice i to shard i), sorted by
//     _seq_no with search_after. Before the PIT is opened the shards' global
//     checkpoints are read and the index refreshed, so every operation at or
//     below the checkpoint is visible in the PIT.
//   - Each copied document is written with version_type=external and
//     version = primary_term<<40 | seq_no of its source copy
//     (ExternalVersion). The target then keeps whichever copy of a document is
//     newest, whatever order copies arrive in: a resumed page, a retried bulk
//     or a catch-up racing the backfill can never overwrite a newer version
//     with an older one, and a repeated copy is a harmless 409.
//   - Catch-up rounds read each shard's live documents with
//     checkpoint_before < _seq_no <= checkpoint_now (again: checkpoint read,
//     then refresh, then search) and copy them the same way. Updates,
//     partial updates, scripted updates and update_by_query all show up,
//     because every one of them assigns a new _seq_no. Nothing is needed from
//     the applications: no timestamp field, no clock, no client changes.
//   - Deletes leave no document to find. After the catch-up the target holds
//     every live source document, so target count == source count proves the
//     sets equal; otherwise the target's ids are scanned and looked up in the
//     source (_mget), and ids missing there are deleted from the target with
//     version = target _version + 1 (external), which loses to any newer
//     re-creation of the same id.
//   - Cutover blocks writes on the source (index.blocks.write), waits until
//     every shard's global checkpoint equals its max_seq_no (in-flight writes
//     done), runs the last catch-up and delete reconciliation, then moves the
//     alias in one _aliases call. Reads never stop; writes are refused
//     (HTTP 403 cluster_block_exception) only for that last, small delta.
//
// Why not dual-writes in the sidecar: they only see writes that go through
// the sidecar (not ingest pipelines, scripts, other clients), a failed second
// write has to be queued or fail the request, and they race the backfill
// anyway, so versioning would still be required. Why not a timestamp field:
// it needs every writer to set it from clocks that agree, and it misses
// deletes just the same.
//
// # Where the state lives
//
// In a small hidden index of the cluster being migrated (default
// "knnbridge-migrations", one document per alias). The state describes that
// cluster's indexes, so it lives and dies with them; any knnbridge process
// (the CLI on another machine, a sidecar replica, a resumed run after the
// first machine is gone) sees the same state; and every save is conditional
// (if_seq_no/if_primary_term), so two runners driving the same migration
// cannot both make progress: the second save of the slower one fails. An
// index write is durable once acknowledged (translog fsync per request).
package migrate
