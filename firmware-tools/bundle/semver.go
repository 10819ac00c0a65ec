package bundle

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is a semantic version (semver.org 2.0.0): MAJOR.MINOR.PATCH, an optional
// pre-release after "-" and optional build metadata after "+" (ignored in comparisons).
// A leading "v" is accepted when parsing and dropped.
type Version struct {
	Major, Minor, Patch uint64
	Pre                 []string // pre-release identifiers
	Build               string
}

// ParseVersion parses a semantic version.
func ParseVersion(s string) (Version, error) {
	var v Version
	in := s
	s = strings.TrimPrefix(s, "v")
	if s == "" || len(s) > 128 {
		return v, fmt.Errorf("bundle: version %q: want MAJOR.MINOR.PATCH[-PRE][+BUILD]", in)
	}
	if i := strings.IndexByte(s, '+'); i >= 0 {
		v.Build = s[i+1:]
		s = s[:i]
		if !identsOK(v.Build, false) {
			return Version{}, fmt.Errorf("bundle: version %q: bad build metadata", in)
		}
	}
	if i := strings.IndexByte(s, '-'); i >= 0 {
		pre := s[i+1:]
		s = s[:i]
		if !identsOK(pre, true) {
			return Version{}, fmt.Errorf("bundle: version %q: bad pre-release", in)
		}
		v.Pre = strings.Split(pre, ".")
	}
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return Version{}, fmt.Errorf("bundle: version %q: want MAJOR.MINOR.PATCH[-PRE][+BUILD]", in)
	}
	nums := [3]*uint64{&v.Major, &v.Minor, &v.Patch}
	for i, p := range parts {
		if !numeric(p) || (len(p) > 1 && p[0] == '0') {
			return Version{}, fmt.Errorf("bundle: version %q: %q is not a number without leading zeros", in, p)
		}
		n, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return Version{}, fmt.Errorf("bundle: version %q: %q is out of range", in, p)
		}
		*nums[i] = n
	}
	return v, nil
}

// MustVersion parses s or panics (tests and constants).
func MustVersion(s string) Version {
	v, err := ParseVersion(s)
	if err != nil {
		panic(err)
	}
	return v
}

func numeric(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// identsOK checks dot-separated identifiers of [0-9A-Za-z-]; pre-release numeric
// identifiers may not have leading zeros.
func identsOK(s string, pre bool) bool {
	if s == "" {
		return false
	}
	for _, id := range strings.Split(s, ".") {
		if id == "" {
			return false
		}
		for i := 0; i < len(id); i++ {
			c := id[i]
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
				return false
			}
		}
		if pre && numeric(id) && len(id) > 1 && id[0] == '0' {
			return false
		}
	}
	return true
}

func (v Version) String() string {
	s := fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
	if len(v.Pre) > 0 {
		s += "-" + strings.Join(v.Pre, ".")
	}
	if v.Build != "" {
		s += "+" + v.Build
	}
	return s
}

// Compare returns -1, 0 or +1 by semver precedence (build metadata is ignored).
func (v Version) Compare(w Version) int {
	for _, d := range [3][2]uint64{{v.Major, w.Major}, {v.Minor, w.Minor}, {v.Patch, w.Patch}} {
		if d[0] != d[1] {
			if d[0] < d[1] {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(v.Pre) == 0 && len(w.Pre) == 0:
		return 0
	case len(v.Pre) == 0:
		return 1 // a release ranks above its pre-releases
	case len(w.Pre) == 0:
		return -1
	}
	for i := 0; i < len(v.Pre) && i < len(w.Pre); i++ {
		a, b := v.Pre[i], w.Pre[i]
		if a == b {
			continue
		}
		an, bn := numeric(a), numeric(b)
		switch {
		case an && bn:
			// No leading zeros: the longer numeral is larger, equal lengths compare as text.
			if len(a) != len(b) {
				if len(a) < len(b) {
					return -1
				}
				return 1
			}
			if a < b {
				return -1
			}
			return 1
		case an:
			return -1 // numeric identifiers rank below alphanumeric ones
		case bn:
			return 1
		case a < b:
			return -1
		default:
			return 1
		}
	}
	switch {
	case len(v.Pre) < len(w.Pre):
		return -1
	case len(v.Pre) > len(w.Pre):
		return 1
	}
	return 0
}

// Less reports v < w.
func (v Version) Less(w Version) bool { return v.Compare(w) < 0 }

// CompareStrings compares two version strings; a string that is not a semantic version
// (for example "dev-0123abcd" of an untagged build) ranks as 0.0.0-0, below every
// release.
func CompareStrings(a, b string) int { return VersionOrZero(a).Compare(VersionOrZero(b)) }

// VersionOrZero parses s, or returns 0.0.0-0 when s is not a semantic version.
func VersionOrZero(s string) Version {
	v, err := ParseVersion(s)
	if err != nil {
		return Version{Pre: []string{"0"}}
	}
	return v
}
