package mapping

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is an OpenSearch version (major.minor.patch); rules are keyed on it.
type Version struct{ Major, Minor, Patch int }

// Versions the rules distinguish.
var (
	V2_9  = Version{2, 9, 0}
	V2_13 = Version{2, 13, 0}
	V2_16 = Version{2, 16, 0}
	V2_17 = Version{2, 17, 0}
	V2_18 = Version{2, 18, 0}
	V2_19 = Version{2, 19, 0}
	V3_0  = Version{3, 0, 0}
	V3_1  = Version{3, 1, 0}
	V3_5  = Version{3, 5, 0}
)

// ParseVersion reads "2.19.1", "2.19" or "3.0.0-SNAPSHOT".
func ParseVersion(s string) (Version, error) {
	base, _, _ := strings.Cut(strings.TrimSpace(s), "-")
	parts := strings.Split(base, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return Version{}, fmt.Errorf("version %q: want major.minor[.patch]", s)
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 {
			return Version{}, fmt.Errorf("version %q: part %q is not a number", s, p)
		}
		n[i] = v
	}
	return Version{n[0], n[1], n[2]}, nil
}

// AtLeast reports whether v >= o.
func (v Version) AtLeast(o Version) bool {
	if v.Major != o.Major {
		return v.Major > o.Major
	}
	if v.Minor != o.Minor {
		return v.Minor > o.Minor
	}
	return v.Patch >= o.Patch
}

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }
