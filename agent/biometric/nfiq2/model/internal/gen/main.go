// Command gen converts NIST's NFIQ 2 random forest (OpenCV RTrees YAML, optionally
// gzipped) into the compact binary the model package embeds. It refuses a source whose
// md5 (of the uncompressed YAML) differs from the one recorded in SOURCE.md5, and checks
// that the binary it writes decodes back to the same forest.
//
//	go run ./internal/gen [-src path/to/nist_plain_tir-ink.yaml.gz] [-o out.rf]
//
// Without -src it looks for shared/data/models/nfiq2/nist_plain_tir-ink.yaml.gz beside
// the repository (walking up from the working directory).
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/captura-claim/captura/agent/biometric/nfiq2/model"
	"github.com/captura-claim/captura/agent/biometric/nfiq2/model/internal/cvyaml"
)

func main() {
	src := flag.String("src", "", "source model (YAML or YAML.gz); default: ../shared/data/models/nfiq2/nist_plain_tir-ink.yaml.gz")
	out := flag.String("o", "nist_plain_tir-ink.rf", "output file")
	sum := flag.String("md5", "SOURCE.md5", "file holding the expected md5 of the uncompressed source")
	flag.Parse()
	if err := run(*src, *out, *sum); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(src, out, sumFile string) error {
	want, err := readMD5(sumFile)
	if err != nil {
		return err
	}
	if src == "" {
		if src, err = findShared(filepath.Join("data", "models", "nfiq2", "nist_plain_tir-ink.yaml.gz")); err != nil {
			return err
		}
	}
	yaml, err := readSource(src)
	if err != nil {
		return err
	}
	got := md5.Sum(yaml)
	if hex.EncodeToString(got[:]) != want {
		return fmt.Errorf("%s: md5 %x, SOURCE.md5 says %s", src, got, want)
	}
	p, err := cvyaml.Parse(bytes.NewReader(yaml))
	if err != nil {
		return err
	}
	f, err := model.New(p.Features, p.Trees, got)
	if err != nil {
		return err
	}
	bin, err := f.MarshalBinary()
	if err != nil {
		return err
	}
	back, err := model.Decode(bin)
	if err != nil {
		return fmt.Errorf("re-decoding the output: %w", err)
	}
	if back.Nodes() != f.Nodes() || back.Trees() != f.Trees() {
		return errors.New("re-decoded forest differs")
	}
	if err := os.WriteFile(out, bin, 0o644); err != nil {
		return err
	}
	fmt.Printf("gen: %s: %d trees, %d nodes, %d features, %d bytes\n", out, f.Trees(), f.Nodes(), f.Features(), len(bin))
	return nil
}

func readMD5(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	fields := strings.Fields(string(b))
	if len(fields) == 0 || len(fields[0]) != 32 {
		return "", fmt.Errorf("%s: no md5 in it", path)
	}
	return strings.ToLower(fields[0]), nil
}

func readSource(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = bufio.NewReader(f)
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		defer zr.Close()
		r = zr
	}
	return io.ReadAll(r)
}

// findShared looks for shared/<rel> in the parents of the working directory.
func findShared(rel string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "shared", rel)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("shared/%s not found above the working directory; pass -src", rel)
		}
		dir = parent
	}
}
