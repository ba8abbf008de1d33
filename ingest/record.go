// Package ingest turns vector and document files into OpenSearch bulk
// requests and reads the answers back, without doing any network I/O itself:
// streaming readers (fvecs/ivecs/bvecs, npy, JSONL, CSV, Parquet), vector
// checks, batching, bulk body encoding, per-item result handling with the
// retry policy, and atomic checkpoints. The network side is a Sink (and an
// optional Embedder) that the caller provides; bridge/ implements the Sink on
// opensearch-go.
package ingest

import (
	"errors"
	"fmt"
	"io"
)

// Position locates one input record exactly. Record is 0-based (the n-th
// record of the file), Line is 1-based for line formats (JSONL, CSV) and 0
// otherwise, Offset is the byte offset of the record's first byte (for
// Parquet, which has no meaningful byte offset per row, it is -1).
type Position struct {
	Record int64 `json:"record"`
	Line   int64 `json:"line,omitempty"`
	Offset int64 `json:"offset"`
}

func (p Position) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("record %d (line %d, byte offset %d)", p.Record, p.Line, p.Offset)
	}
	if p.Offset < 0 {
		return fmt.Sprintf("record %d", p.Record)
	}
	return fmt.Sprintf("record %d (byte offset %d)", p.Record, p.Offset)
}

// Field is one extra document field carried through to the index as-is:
// Raw is already-valid JSON (a string literal, a number, an object...).
type Field struct {
	Name string
	Raw  []byte
}

// Record is one input document. Vector is nil when the input has only text
// (the loader then embeds Text). Fields are the remaining document fields in
// input order, already JSON-encoded.
type Record struct {
	Pos     Position
	ID      string
	Vector  []float32
	Text    string
	HasText bool
	Fields  []Field
}

// Reader streams records from one input. Next returns io.EOF at the end.
// A *RecordError is recoverable: the bad record is skipped and the next call
// continues with the following record. Any other error is fatal for the
// stream (truncated binary file, unreadable header...).
type Reader interface {
	Next() (Record, error)
	// Tell is the position of the next record Next would return: after a
	// batch is acknowledged, the Tell taken after its last record is what a
	// checkpoint stores.
	Tell() Position
	// Close releases the underlying file.
	Close() error
}

// Resumer is implemented by readers that can start from a checkpointed
// position (the position of the first record not yet acknowledged) without
// re-reading everything before it.
type Resumer interface {
	Resume(next Position) error
}

// RecordError reports one malformed record with its exact position; the
// reader has skipped it and can go on.
type RecordError struct {
	Pos Position
	Err error
}

func (e *RecordError) Error() string { return fmt.Sprintf("%s: %v", e.Pos, e.Err) }
func (e *RecordError) Unwrap() error { return e.Err }

// FormatError is a fatal, position-carrying error: the stream cannot be
// resynchronised after it (for example a truncated fvecs record, where the
// length prefix of every following record is lost).
type FormatError struct {
	Pos Position
	Err error
}

func (e *FormatError) Error() string { return fmt.Sprintf("%s: %v", e.Pos, e.Err) }
func (e *FormatError) Unwrap() error { return e.Err }

// IsRecordError reports whether err is a recoverable per-record error.
func IsRecordError(err error) bool {
	var re *RecordError
	return errors.As(err, &re)
}

var errIOEOF = io.EOF
