package debpkg

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// describeRE matches `git describe --tags --always --dirty` output: an optional tag
// vX.Y.Z[-pre], commits since it and the abbreviated hash, and -dirty.
var (
	tagRE      = regexp.MustCompile(`^v?([0-9]+(?:\.[0-9]+)*)(?:-([0-9A-Za-z.]+))?$`)
	describeRE = regexp.MustCompile(`^(.*)-([0-9]+)-g([0-9a-f]{4,40})$`)
	hashRE     = regexp.MustCompile(`^[0-9a-f]{4,40}$`)
	debVerRE   = regexp.MustCompile(`^[0-9][A-Za-z0-9.+~]*$`)
)

// DebVersion turns the project's version string (git describe --tags --always --dirty,
// as the Makefile's VERSION) into a Debian upstream version that sorts the way releases
// do:
//
//	v1.2.3                 1.2.3
//	v1.2.3-rc1             1.2.3~rc1          (before 1.2.3)
//	v1.2.3-4-gabc1234      1.2.3+4.gabc1234   (after 1.2.3)
//	abc1234 (no tag yet)   0~git20251127.171800.abc1234 (ordered by commit time)
//	any of these + -dirty  ... .dirty
//
// commit is the time of the commit the version names (it orders untagged builds).
func DebVersion(describe string, commit time.Time) (string, error) {
	s := strings.TrimSpace(describe)
	dirty := strings.HasSuffix(s, "-dirty")
	s = strings.TrimSuffix(s, "-dirty")
	var v string
	switch {
	case s == "" || s == "dev" || hashRE.MatchString(s):
		v = "0~git" + commit.UTC().Format("20060102.150405")
		if hashRE.MatchString(s) {
			v += "." + s
		}
	default:
		tag, since, hash := s, "", ""
		if m := describeRE.FindStringSubmatch(s); m != nil {
			tag, since, hash = m[1], m[2], m[3]
		}
		m := tagRE.FindStringSubmatch(tag)
		if m == nil {
			return "", fmt.Errorf("debpkg: version %q: not a tag vX.Y.Z[-pre], a describe of one, or a commit hash", describe)
		}
		v = m[1]
		if m[2] != "" {
			v += "~" + m[2]
		}
		if since != "" {
			v += "+" + since + ".g" + hash
		}
	}
	if dirty {
		v += ".dirty"
	}
	if !debVerRE.MatchString(v) {
		return "", fmt.Errorf("debpkg: version %q gives %q, not a Debian upstream version", describe, v)
	}
	return v, nil
}
