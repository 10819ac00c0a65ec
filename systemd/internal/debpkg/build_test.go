package debpkg

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/blakesmith/ar"
	"github.com/ulikunitz/xz"
)

// buildTiny builds a small pure-Go program for goarch/goarm and copies it under the
// names of the three Captura binaries into a new directory.
func buildTiny(t *testing.T, goarch, goarm string) string {
	t.Helper()
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "go.mod"), []byte("module tiny\n\ngo 1.22\n"), 0o644)
	os.WriteFile(filepath.Join(src, "main.go"), []byte("package main\n\nfunc main() { println(\"tiny\") }\n"), 0o644)
	bin := t.TempDir()
	cmd := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(bin, "tiny"), ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch, "GOARM="+goarm, "GOFLAGS=-buildvcs=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("go build: %v\n%s", err, out)
	}
	data, err := os.ReadFile(filepath.Join(bin, "tiny"))
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range Binaries {
		if err := os.WriteFile(filepath.Join(bin, b), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return bin
}

type debFile struct {
	hdr  *tar.Header
	data []byte
}

// readDeb returns the members of a .deb's control and data archives, by path.
func readDeb(t *testing.T, path string) (control, data map[string]debFile) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := ar.NewReader(f)
	var members []string
	control, data = map[string]debFile{}, map[string]debFile{}
	for {
		h, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(h.Name, "/")
		members = append(members, name)
		raw, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		var dec io.Reader
		switch name {
		case "debian-binary":
			if string(raw) != "2.0\n" {
				t.Errorf("debian-binary %q", raw)
			}
			continue
		case "control.tar.gz":
			dec, err = gzip.NewReader(bytes.NewReader(raw))
		case "data.tar.xz":
			dec, err = xz.NewReader(bytes.NewReader(raw))
		default:
			t.Fatalf("unexpected member %s", name)
		}
		if err != nil {
			t.Fatal(err)
		}
		into := control
		if name == "data.tar.xz" {
			into = data
		}
		tr := tar.NewReader(dec)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(tr)
			into[strings.TrimPrefix(h.Name, ".")] = debFile{hdr: h, data: b}
		}
	}
	if strings.Join(members, " ") != "debian-binary control.tar.gz data.tar.xz" {
		t.Errorf("ar members %q", members)
	}
	return control, data
}

func TestBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds Go programs")
	}
	date := time.Date(2025, 11, 27, 12, 0, 0, 0, time.UTC)
	bin := buildTiny(t, "arm", "7")
	spec := Spec{Root: filepath.Join(sysDir, ".."), BinDir: bin, HelpDir: fakeHelp(t), Arch: "armhf", Version: "1.2.3",
		Date: date, Maintainer: "Test Maintainer <test@example.org>", GoRoot: goEnv(t, "GOROOT"), ModCache: goEnv(t, "GOMODCACHE")}
	out := t.TempDir()
	path, err := Build(context.Background(), spec, out)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(path) != "captura_1.2.3-1_armhf.deb" {
		t.Errorf("file name %s", filepath.Base(path))
	}
	control, data := readDeb(t, path)

	ctl := string(control["/control"].data)
	for _, want := range []string{"Package: captura\n", "Version: 1.2.3-1\n", "Architecture: armhf\n", "Depends: systemd (>= 247)\n",
		"Maintainer: Test Maintainer <test@example.org>\n", "Section: admin\n", "Description: agent and tools for Captura"} {
		if !strings.Contains(ctl, want) {
			t.Errorf("control lacks %q:\n%s", want, ctl)
		}
	}
	if got := string(control["/conffiles"].data); got != ConfigFile+"\n" {
		t.Errorf("conffiles %q", got)
	}
	for _, s := range Scripts {
		f, ok := control["/"+s]
		if !ok {
			t.Errorf("no %s", s)
			continue
		}
		if f.hdr.Mode&0o777 != 0o755 || placeholderRE.Match(f.data) {
			t.Errorf("%s: mode %o, placeholders %q", s, f.hdr.Mode, placeholderRE.FindAll(f.data, -1))
		}
	}

	units, _ := Units(sysDir)
	want := map[string]int64{
		"/usr/bin/captura-agent": 0o755, "/usr/bin/capturactl": 0o755, "/usr/bin/captura-fw": 0o755,
		"/lib/udev/rules.d/60-captura.rules":          0o644,
		"/usr/lib/sysusers.d/captura.conf":            0o644,
		"/usr/lib/tmpfiles.d/captura.conf":            0o644,
		"/usr/lib/modules-load.d/captura.conf":        0o644,
		LibexecDir + "/restart-when-idle":             0o755,
		ConfigFile:                                    0o644,
		"/usr/share/man/man8/captura-agent.8.gz":      0o644,
		"/usr/share/man/man5/captura-agent.toml.5.gz": 0o644,
		"/usr/share/man/man1/capturactl.1.gz":         0o644,
		"/usr/share/man/man1/captura-fw.1.gz":         0o644,
		DocDir + "/changelog.Debian.gz":               0o644,
		DocDir + "/copyright":                         0o644,
		"/usr/share/lintian/overrides/captura":        0o644,
	}
	for _, u := range units {
		want[UnitDir+"/"+u.Name] = 0o644
	}
	for p, mode := range want {
		f, ok := data[p]
		if !ok {
			t.Errorf("package lacks %s", p)
			continue
		}
		if f.hdr.Mode&0o7777 != mode || f.hdr.Uname != "root" || f.hdr.Gname != "root" || !f.hdr.ModTime.Equal(date) {
			t.Errorf("%s: mode %o owner %s:%s time %v", p, f.hdr.Mode, f.hdr.Uname, f.hdr.Gname, f.hdr.ModTime)
		}
	}
	for p, f := range data {
		if f.hdr.Typeflag == tar.TypeReg {
			if _, ok := want[p]; !ok {
				t.Errorf("unexpected file %s", p)
			}
			if !strings.Contains(string(control["/md5sums"].data), strings.TrimPrefix(p, "/")+"\n") {
				t.Errorf("%s not in md5sums", p)
			}
		}
	}
	example, _ := os.ReadFile(filepath.Join(sysDir, "..", "agent", "config", "example.toml"))
	if !bytes.Equal(data[ConfigFile].data, example) {
		t.Error("the conffile is not the example configuration")
	}
	gunzip := func(p string) string {
		z, err := gzip.NewReader(bytes.NewReader(data[p].data))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		b, _ := io.ReadAll(z)
		return string(b)
	}
	if cl := gunzip(DocDir + "/changelog.Debian.gz"); !strings.HasPrefix(cl, "captura (1.2.3-1) unstable; urgency=medium\n") ||
		!strings.Contains(cl, " -- Test Maintainer <test@example.org>  Thu, 27 Nov 2025 12:00:00 +0000\n") {
		t.Errorf("changelog:\n%s", cl)
	}
	if man := gunzip("/usr/share/man/man8/captura-agent.8.gz"); !strings.Contains(man, ".TH CAPTURA\\-AGENT 8") {
		t.Errorf("man page:\n%s", man)
	}

	// dpkg reads it the same way.
	if _, err := exec.LookPath("dpkg-deb"); err == nil {
		out, err := exec.Command("dpkg-deb", "--field", path, "Package", "Version", "Architecture").CombinedOutput()
		if err != nil || string(out) != "Package: captura\nVersion: 1.2.3-1\nArchitecture: armhf\n" {
			t.Errorf("dpkg-deb --field: %v\n%s", err, out)
		}
	}
}

func TestBuildRejectsWrongBinaries(t *testing.T) {
	if testing.Short() {
		t.Skip("builds Go programs")
	}
	bin := buildTiny(t, "amd64", "")
	spec := Spec{Root: filepath.Join(sysDir, ".."), BinDir: bin, HelpDir: fakeHelp(t), Arch: "arm64", Version: "1.2.3",
		Date: time.Now(), Maintainer: "T <t@example.org>", GoRoot: goEnv(t, "GOROOT"), ModCache: goEnv(t, "GOMODCACHE")}
	if _, err := Build(context.Background(), spec, t.TempDir()); err == nil || !strings.Contains(err.Error(), "GOARCH") {
		t.Errorf("amd64 binaries in an arm64 package: err = %v", err)
	}
	spec.Arch = "armel"
	if _, err := Build(context.Background(), spec, t.TempDir()); err == nil {
		t.Error("unknown architecture accepted")
	}
	spec.Arch, spec.Version = "amd64", "v1.2.3"
	if _, err := Build(context.Background(), spec, t.TempDir()); err == nil {
		t.Error("a version starting with v accepted")
	}
}
