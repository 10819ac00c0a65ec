// Package version holds the build's version, set by the linker
// (-X github.com/captura-claim/captura/agent/version.Version=...).
package version

import "runtime/debug"

// Version is the release version; "dev" in untagged builds.
var Version = "dev"

// String returns Version, or the VCS revision for untagged builds.
func String() string {
	if Version != "dev" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "dev-" + s.Value[:12]
			}
		}
	}
	return Version
}
