package provision

import (
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/captura-claim/captura/protocol"
)

func TestProvision(t *testing.T) {
	dir := t.TempDir()
	res, err := Station(dir, "lisboa-arroios", "st-07")
	if err != nil {
		t.Fatal(err)
	}
	for f, mode := range map[string]os.FileMode{KeyFile: 0o600, SecretFile: 0o600, PubFile: 0o644, LabelPNG: 0o600} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: %v %v", f, fi.Mode(), err)
		}
	}
	secretText, _ := os.ReadFile(filepath.Join(dir, SecretFile))
	secret, err := protocol.ParseSecret(string(secretText))
	if err != nil {
		t.Fatal(err)
	}
	c, s, fromLabel, kid, err := ParseLabelURI(res.URI)
	if err != nil || c != "lisboa-arroios" || s != "st-07" || string(fromLabel) != string(secret) || kid != res.KeyID.String() {
		t.Fatalf("label %q: %v", res.URI, err)
	}
	f, _ := os.Open(filepath.Join(dir, LabelPNG))
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil || img.Bounds().Dx() != 320 {
		t.Fatalf("label png: %v", err)
	}
	if _, err := Station(dir, "lisboa-arroios", "st-07"); err == nil || !strings.Contains(err.Error(), "never overwritten") {
		t.Fatalf("second provision: %v", err)
	}
	for _, bad := range []string{"captura://pair?c=C&s=st&k=x", "http://pair?c=c", "captura://pair?c=c&s=s&k=AAAA"} {
		if _, _, _, _, err := ParseLabelURI(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
