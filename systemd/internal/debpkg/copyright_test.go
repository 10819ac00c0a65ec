package debpkg

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func goEnv(t *testing.T, key string) string {
	t.Helper()
	out, err := exec.Command("go", "env", key).Output()
	if err != nil {
		t.Skipf("go env %s: %v", key, err)
	}
	return strings.TrimSpace(string(out))
}

// captureDebBuildInfo returns the build information captura-deb would have: its
// module dependencies (nfpm and everything it links), from go list.
func captureDebBuildInfo(t *testing.T) *debug.BuildInfo {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{with .Module}}{{if not .Main}}{{.Path}} {{.Version}}{{end}}{{end}}", "../../cmd/captura-deb").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	bi := &debug.BuildInfo{GoVersion: runtime.Version()}
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, version, ok := strings.Cut(line, " ")
		if !ok || seen[line] {
			continue
		}
		seen[line] = true
		bi.Deps = append(bi.Deps, &debug.Module{Path: path, Version: version})
	}
	if len(bi.Deps) < 5 {
		t.Fatalf("go list found %d modules: %q", len(bi.Deps), out)
	}
	return bi
}

// TestCopyrightOfNfpm builds the copyright file for captura-deb's own dependencies
// (nfpm and the modules it links): every module must be there with its licence, the
// Apache licence condensed to Debian's reference, the standard library's licence, and
// the NFIQ 2 model's licence (data the agent embeds).
func TestCopyrightOfNfpm(t *testing.T) {
	bi := captureDebBuildInfo(t)
	cp, err := Copyright([]byte("HEADER\n"), []*debug.BuildInfo{bi, bi}, filepath.Join(sysDir, ".."), goEnv(t, "GOROOT"), goEnv(t, "GOMODCACHE"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(cp)
	if !strings.HasPrefix(s, "HEADER\n") {
		t.Error("header missing")
	}
	for _, m := range bi.Deps {
		title := "Go module " + m.Path + " " + m.Version + "\n"
		if strings.Count(s, title) != 1 {
			t.Errorf("module %s %s: %d sections, want 1", m.Path, m.Version, strings.Count(s, title))
		}
	}
	if !strings.Contains(s, "Go standard library and runtime, "+bi.GoVersion) {
		t.Error("no standard library section")
	}
	if strings.Contains(s, "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION") {
		t.Error("full Apache 2.0 text left in (lintian: copyright-file-contains-full-apache-2-license)")
	}
	if !strings.Contains(s, "/usr/share/common-licenses/Apache-2.0") {
		t.Error("no Apache 2.0 reference (nfpm's dependencies include Apache-licensed modules)")
	}
	if !strings.Contains(s, "agent/biometric/nfiq2/model/LICENSE.md") || !strings.Contains(s, "National Institute of Standards and Technology") {
		t.Error("the NFIQ 2 model's licence is missing")
	}
	if strings.Contains(s, "testdata/") {
		t.Error("licences of test data included")
	}
}

func TestCopyrightMissingLicence(t *testing.T) {
	modcache := t.TempDir()
	os.MkdirAll(filepath.Join(modcache, "example.com", "!upper@v1.0.0"), 0o755)
	os.WriteFile(filepath.Join(modcache, "example.com", "!upper@v1.0.0", "README"), []byte("x"), 0o644)
	goroot := t.TempDir()
	os.WriteFile(filepath.Join(goroot, "LICENSE"), []byte("Go licence"), 0o644)
	bi := &debug.BuildInfo{GoVersion: "go1.26", Deps: []*debug.Module{{Path: "example.com/Upper", Version: "v1.0.0"}}}
	_, err := Copyright(nil, []*debug.BuildInfo{bi}, t.TempDir(), goroot, modcache)
	if err == nil || !strings.Contains(err.Error(), "example.com/Upper") {
		t.Fatalf("err = %v, want one naming the module", err)
	}
	os.WriteFile(filepath.Join(modcache, "example.com", "!upper@v1.0.0", "LICENSE.txt"), []byte("MIT"), 0o644)
	cp, err := Copyright(nil, []*debug.BuildInfo{bi}, t.TempDir(), goroot, modcache)
	if err != nil || !strings.Contains(string(cp), "--- LICENSE.txt\n\nMIT\n") {
		t.Fatalf("Copyright = %q, %v", cp, err)
	}
}

func TestCondenseApache(t *testing.T) {
	full := "Copyright 2019 Example Inc.\n\n                                 Apache License\n                           Version 2.0, January 2004\n" +
		"TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION\n...\nEND OF TERMS AND CONDITIONS\n" +
		"APPENDIX\n   Copyright [yyyy] [name of copyright owner]\n   Copyright 2020 Other Author\n"
	got := condenseApache(full)
	for _, want := range []string{"Copyright 2019 Example Inc.", "/usr/share/common-licenses/Apache-2.0", "Copyright 2020 Other Author"} {
		if !strings.Contains(got, want) {
			t.Errorf("condensed text lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "TERMS AND CONDITIONS FOR USE") || strings.Contains(got, "[yyyy]") {
		t.Errorf("condensed text keeps the licence body:\n%s", got)
	}
	if mit := "MIT License\n\nPermission is hereby granted"; condenseApache(mit) != mit {
		t.Error("non-Apache text changed")
	}
}
