package debpkg

import (
	"debug/buildinfo"
	"fmt"
	"path/filepath"
	"runtime/debug"
	"strings"
)

// Binaries are the programs the package ships in /usr/bin.
var Binaries = []string{"captura-agent", "capturactl", "captura-fw"}

// Arch describes one Debian architecture the package is built for.
type Arch struct {
	Deb    string // Debian architecture: amd64, arm64, armhf
	GOARCH string
	GOARM  string // for arm: the GOARM the binaries must have been built with
}

// Arches are the architectures Captura is packaged for.
var Arches = []Arch{
	{Deb: "amd64", GOARCH: "amd64"},
	{Deb: "arm64", GOARCH: "arm64"},
	{Deb: "armhf", GOARCH: "arm", GOARM: "7"},
}

// LookupArch returns the Arch for a Debian architecture name.
func LookupArch(deb string) (Arch, error) {
	for _, a := range Arches {
		if a.Deb == deb {
			return a, nil
		}
	}
	names := make([]string, len(Arches))
	for i, a := range Arches {
		names[i] = a.Deb
	}
	return Arch{}, fmt.Errorf("debpkg: architecture %q: want one of %s", deb, strings.Join(names, ", "))
}

// checkBinary reads the Go build information of a binary and checks that it is a
// pure-Go (CGO_ENABLED=0) linux build for arch. It returns the build information, whose
// module list feeds the copyright file.
func checkBinary(path string, arch Arch) (*debug.BuildInfo, error) {
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("debpkg: %s: %w", path, err)
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	name := filepath.Base(path)
	want := map[string]string{"GOOS": "linux", "GOARCH": arch.GOARCH, "CGO_ENABLED": "0"}
	for k, v := range want {
		if settings[k] != v {
			return nil, fmt.Errorf("debpkg: %s was built with %s=%q, the %s package needs %s=%s", name, k, settings[k], arch.Deb, k, v)
		}
	}
	if arch.GOARM != "" {
		if goarm, _, _ := strings.Cut(settings["GOARM"], ","); goarm != arch.GOARM {
			return nil, fmt.Errorf("debpkg: %s was built with GOARM=%q, the %s package needs GOARM=%s", name, settings["GOARM"], arch.Deb, arch.GOARM)
		}
	}
	return bi, nil
}
