package queries

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is an OpenSearch version. The zero Version means "unknown"; rules
// that depend on the version then assume the current behaviour (2.19+),
// which is the primary target.
type Version struct {
	Major, Minor, Patch int
}

// ParseVersion reads "2.19.1", "3.0.0-SNAPSHOT" or "2.19".
func ParseVersion(s string) (Version, error) {
	orig := s
	if i := strings.IndexAny(s, "-+"); i >= 0 {
		s = s[:i]
	}
	parts := strings.Split(s, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return Version{}, fmt.Errorf("version %q: want MAJOR.MINOR[.PATCH]", orig)
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 {
			return Version{}, fmt.Errorf("version %q: part %d (%q) is not a non-negative integer", orig, i+1, p)
		}
		n[i] = v
	}
	return Version{n[0], n[1], n[2]}, nil
}

// Known reports whether the version was set.
func (v Version) Known() bool { return v != Version{} }

// AtLeast reports v >= major.minor. An unknown version counts as new.
func (v Version) AtLeast(major, minor int) bool {
	if !v.Known() {
		return true
	}
	if v.Major != major {
		return v.Major > major
	}
	return v.Minor >= minor
}

func (v Version) String() string {
	if !v.Known() {
		return "unknown"
	}
	return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
}
