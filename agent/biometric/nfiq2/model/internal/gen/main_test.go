package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunChecksMD5: the generator refuses a source whose md5 differs from SOURCE.md5.
func TestRunChecksMD5(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "model.yaml")
	if err := os.WriteFile(src, []byte("%YAML:1.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := filepath.Join(dir, "SOURCE.md5")
	if err := os.WriteFile(sum, []byte("b4a1e7586b3be906f9770e4b77768038  nist_plain_tir-ink.yaml\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.rf")
	err := run(src, out, sum)
	if err == nil || !strings.Contains(err.Error(), "md5") {
		t.Fatalf("error %v, want an md5 mismatch", err)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("output written despite the mismatch")
	}
	if err := os.WriteFile(sum, []byte("not a sum\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run(src, out, sum); err == nil {
		t.Error("bad SOURCE.md5 accepted")
	}
}
