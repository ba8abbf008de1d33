package ingest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// Checkpoint records how far a load got: every input record before Next has
// been acknowledged by the cluster (accepted) or reported (rejected). Saved
// atomically, so a crash at any instant leaves either the old or the new one.
type Checkpoint struct {
	Version   int      `json:"version"`
	Input     string   `json:"input"`
	InputSize int64    `json:"input_size"`
	Format    string   `json:"format"`
	Index     string   `json:"index"`
	Next      Position `json:"next"`
	Read      int64    `json:"read"`
	Accepted  int64    `json:"accepted"`
	Rejected  int64    `json:"rejected"`
	// BaseCount is the index's document count before the first run, so the
	// final count check works across resumes of a load into a non-empty index.
	BaseCount int64 `json:"base_count"`
	// Settings holds the index settings the load changed and their original
	// values, so an interrupted load's resume (or `load --restore`) can put
	// them back. nil = not changed.
	Settings map[string]*string `json:"settings,omitempty"`
	Done     bool               `json:"done"`
}

// Save writes c to path atomically: write a temporary file in the same
// directory, fsync it, rename it over path, fsync the directory.
func (c *Checkpoint) Save(path string) error {
	c.Version = 1
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("checkpoint: write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("checkpoint: fsync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// LoadCheckpoint reads a checkpoint; a missing file returns (nil, nil).
func LoadCheckpoint(path string) (*Checkpoint, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	var c Checkpoint
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if c.Version != 1 {
		return nil, fmt.Errorf("checkpoint %s: unknown version %d", path, c.Version)
	}
	return &c, nil
}
