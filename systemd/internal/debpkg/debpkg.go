// Package debpkg builds Captura's Debian package with nfpm (as a library): the
// binaries, every systemd unit in the repository's systemd/ directory, the udev rules,
// sysusers.d, tmpfiles.d and modules-load.d entries, the commented example
// configuration as the conffile /etc/captura/agent.toml, maintainer scripts, manual
// pages generated from the programs' own help, a Debian changelog, and a copyright
// file carrying the licence of every Go module linked into the binaries.
//
// Layout (Debian 12 / Raspberry Pi OS bookworm): units in /lib/systemd/system and udev
// rules in /lib/udev/rules.d (where bookworm's systemd and udev look, see their .pc
// files), the rest under /usr/lib.
package debpkg

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/files"
)

// Name is the package name.
const Name = "captura"

// Installed paths.
const (
	UnitDir    = "/lib/systemd/system"
	UdevDir    = "/lib/udev/rules.d"
	ConfigFile = "/etc/captura/agent.toml"
	LibexecDir = "/usr/libexec/captura"
	DocDir     = "/usr/share/doc/" + Name
)

// Spec says what to package.
type Spec struct {
	Root       string    // repository root
	BinDir     string    // the target's binaries (captura-agent, capturactl, captura-fw)
	HelpDir    string    // the same programs built for this machine (for the manual pages)
	Arch       string    // Debian architecture: amd64, arm64 or armhf
	Version    string    // upstream version (see DebVersion)
	Revision   string    // Debian revision; "1" when empty
	Date       time.Time // file times and the changelog's date (SOURCE_DATE_EPOCH)
	Maintainer string    // "Name <address>"
	GoRoot     string    // for the standard library's licence
	ModCache   string    // GOMODCACHE, for the licences of the linked modules
}

// Description is the package's control description.
const Description = `agent and tools for Captura biometric capture stations
Captura runs a biometric capture station at a CLAIM 2G counter. The daemon,
captura-agent, drives a UART fingerprint reader, a USB camera and a GPIO
panel; it seals each capture record to AIMA's public key, signs it with the
station key and delivers it to the centre gateway over MQTT, keeping it in
an on-disk outbox until the gateway's signed receipt arrives.
.
The package runs the agent as a hardened systemd service under the captura
user, links known USB-serial readers at /dev/captura-reader with udev rules,
and installs the commented example configuration /etc/captura/agent.toml.
It also holds capturactl (technician and integrator client) and captura-fw
(maintainer tool: keys, update bundles, reader maintenance).`

// Build writes the package for spec into outDir and returns its path.
func Build(ctx context.Context, spec Spec, outDir string) (string, error) {
	arch, err := LookupArch(spec.Arch)
	if err != nil {
		return "", err
	}
	if !debVerRE.MatchString(spec.Version) {
		return "", fmt.Errorf("debpkg: version %q is not a Debian upstream version", spec.Version)
	}
	if spec.Revision == "" {
		spec.Revision = "1"
	}
	if spec.Maintainer == "" {
		return "", fmt.Errorf("debpkg: no maintainer")
	}
	sysDir := filepath.Join(spec.Root, "systemd")

	var infos []*debug.BuildInfo
	for _, b := range Binaries {
		bi, err := checkBinary(filepath.Join(spec.BinDir, b), arch)
		if err != nil {
			return "", err
		}
		infos = append(infos, bi)
	}
	units, err := Units(sysDir)
	if err != nil {
		return "", err
	}

	stage, err := os.MkdirTemp("", "captura-deb-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(stage)

	scripts, err := renderScripts(filepath.Join(sysDir, "debian"), stage, units)
	if err != nil {
		return "", err
	}
	pages, err := ManPages(ctx, filepath.Join(sysDir, "man"), spec.HelpDir, spec.Version, spec.Date)
	if err != nil {
		return "", err
	}
	header, err := os.ReadFile(filepath.Join(sysDir, "debian", "copyright.in"))
	if err != nil {
		return "", fmt.Errorf("debpkg: %w", err)
	}
	copyright, err := Copyright(header, infos, spec.Root, spec.GoRoot, spec.ModCache)
	if err != nil {
		return "", err
	}
	fullVersion := spec.Version + "-" + spec.Revision
	changelog := Changelog(fullVersion, spec.Maintainer, spec.Date)

	var contents files.Contents
	add := func(src, dst string, mode os.FileMode, typ string) {
		contents = append(contents, &files.Content{Source: src, Destination: dst, Type: typ,
			FileInfo: &files.ContentFileInfo{Owner: "root", Group: "root", Mode: mode, MTime: spec.Date}})
	}
	gz := func(name string, data []byte) (string, error) {
		p := filepath.Join(stage, name)
		z, err := gzipBytes(data)
		if err != nil {
			return "", err
		}
		return p, os.WriteFile(p, z, 0o644)
	}
	for _, b := range Binaries {
		add(filepath.Join(spec.BinDir, b), "/usr/bin/"+b, 0o755, "")
	}
	for _, u := range units {
		add(u.Path, UnitDir+"/"+u.Name, 0o644, "")
	}
	add(filepath.Join(sysDir, "udev", "60-captura.rules"), UdevDir+"/60-captura.rules", 0o644, "")
	add(filepath.Join(sysDir, "sysusers.d", "captura.conf"), "/usr/lib/sysusers.d/captura.conf", 0o644, "")
	add(filepath.Join(sysDir, "tmpfiles.d", "captura.conf"), "/usr/lib/tmpfiles.d/captura.conf", 0o644, "")
	add(filepath.Join(sysDir, "modules-load.d", "captura.conf"), "/usr/lib/modules-load.d/captura.conf", 0o644, "")
	add(filepath.Join(sysDir, "libexec", "restart-when-idle"), LibexecDir+"/restart-when-idle", 0o755, "")
	add(filepath.Join(spec.Root, "agent", "config", "example.toml"), ConfigFile, 0o644, files.TypeConfig)
	for _, p := range pages {
		src, err := gz(p.File(), p.Roff)
		if err != nil {
			return "", err
		}
		add(src, "/usr/share/man/man"+p.Section+"/"+p.File(), 0o644, "")
	}
	src, err := gz("changelog.Debian.gz", changelog)
	if err != nil {
		return "", err
	}
	add(src, DocDir+"/changelog.Debian.gz", 0o644, "")
	cp := filepath.Join(stage, "copyright")
	if err := os.WriteFile(cp, copyright, 0o644); err != nil {
		return "", err
	}
	add(cp, DocDir+"/copyright", 0o644, "")
	if ov := filepath.Join(sysDir, "debian", "lintian-overrides"); exists(ov) {
		add(ov, "/usr/share/lintian/overrides/"+Name, 0o644, "")
	}

	info := &nfpm.Info{
		Name:          Name,
		Arch:          arch.GOARCH,
		Platform:      "linux",
		Version:       spec.Version,
		VersionSchema: "none",
		Release:       spec.Revision,
		Section:       "admin",
		Priority:      "optional",
		Maintainer:    spec.Maintainer,
		Description:   Description,
		MTime:         spec.Date,
		Overridables: nfpm.Overridables{
			// systemd >= 247 for the unit's sandboxing (ProtectProc=, ProcSubset=);
			// it also brings systemd-sysusers and systemd-tmpfiles for the postinst.
			Depends:  []string{"systemd (>= 247)"},
			Contents: contents,
			Scripts: nfpm.Scripts{
				PostInstall: scripts["postinst"],
				PreRemove:   scripts["prerm"],
				PostRemove:  scripts["postrm"],
			},
			Deb: nfpm.Deb{Arch: arch.Deb, Compression: "xz"},
		},
	}
	info = nfpm.WithDefaults(info)
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", err
	}
	out := filepath.Join(outDir, fmt.Sprintf("%s_%s_%s.deb", Name, fullVersion, arch.Deb))
	var buf bytes.Buffer
	if err := deb.Default.Package(info, &buf); err != nil {
		return "", fmt.Errorf("debpkg: nfpm: %w", err)
	}
	tmp := out + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, out); err != nil {
		return "", err
	}
	return out, nil
}

// Changelog is the package's Debian changelog: one entry for this build.
func Changelog(version, maintainer string, date time.Time) []byte {
	return []byte(fmt.Sprintf("%s (%s) unstable; urgency=medium\n\n"+
		"  * Captura %s.\n\n"+
		" -- %s  %s\n",
		Name, version, strings.SplitN(version, "-", 2)[0], maintainer, date.UTC().Format(time.RFC1123Z)))
}

// gzipBytes compresses like gzip -9n: best compression, no name, no time stamp.
func gzipBytes(data []byte) ([]byte, error) {
	var b bytes.Buffer
	z, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := z.Write(data); err != nil {
		return nil, err
	}
	if err := z.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
