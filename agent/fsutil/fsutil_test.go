package fsutil

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state")
	for _, content := range []string{"one", "two, longer"} {
		if err := WriteFileAtomic(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(p)
		if string(got) != content {
			t.Fatalf("content = %q, want %q", got, content)
		}
	}
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v", fi.Mode())
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("temporary files left behind: %v", ents)
	}
}

func TestCreateExclusive(t *testing.T) {
	p := filepath.Join(t.TempDir(), "key")
	if err := CreateExclusive(p, []byte("k"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := CreateExclusive(p, []byte("other"), 0o600); !os.IsExist(err) {
		t.Fatalf("second create: err = %v, want exists", err)
	}
	got, _ := os.ReadFile(p)
	if string(got) != "k" {
		t.Fatal("existing file was changed")
	}
}
