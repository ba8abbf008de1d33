package ingest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Formats accepted by Open.
var Formats = []string{"fvecs", "ivecs", "bvecs", "npy", "jsonl", "csv", "parquet"}

// FormatOf guesses the format from the file name.
func FormatOf(path string) (string, error) {
	ext := strings.ToLower(strings.TrimPrefix(filepath.Ext(path), "."))
	switch ext {
	case "fvecs", "ivecs", "bvecs", "npy", "jsonl", "csv", "parquet":
		return ext, nil
	case "ndjson":
		return "jsonl", nil
	}
	return "", fmt.Errorf("cannot tell the format of %q from its extension; want one of %v", path, Formats)
}

// Open opens path as format ("" = from the extension).
func Open(path, format string, opt Options) (Reader, error) {
	if format == "" {
		var err error
		if format, err = FormatOf(path); err != nil {
			return nil, err
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	var r Reader
	switch format {
	case "fvecs":
		r = NewVecsReader(f, Fvecs)
	case "ivecs":
		r = NewVecsReader(f, Ivecs)
	case "bvecs":
		r = NewVecsReader(f, Bvecs)
	case "npy":
		r, err = NewNpyReader(f)
	case "jsonl":
		r = NewJSONLReader(f, opt)
	case "csv":
		r, err = NewCSVReader(f, opt)
	case "parquet":
		var st os.FileInfo
		if st, err = f.Stat(); err == nil {
			r, err = NewParquetReader(f, st.Size(), f, opt)
		}
	default:
		err = fmt.Errorf("unknown format %q; want one of %v", format, Formats)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}
