// Package reference reads NIST NFIQ 2 outputs used as test references: the example
// API's per-image text output, the CLI's CSV (conformance set) and our TSV of the
// FVC2002 images. It also finds the evaluation-only data beside the repository.
package reference

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Row is NIST's output for one image.
type Row struct {
	Name   string
	Score  int    // -1 when NIST gave no score
	Error  string // NIST's error message when it gave no score
	Values map[string]float64
}

// ReadExampleOutput reads one "Name: value" per line file of NIST's example API.
func ReadExampleOutput(path string) (*Row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	row := &Row{Name: filepath.Base(path), Values: map[string]float64{}}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("%s: bad line %q", path, line)
		}
		x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, k, err)
		}
		row.Values[strings.TrimSpace(k)] = x
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	s, ok := row.Values["UnifiedQualityScore"]
	if !ok {
		return nil, fmt.Errorf("%s: no UnifiedQualityScore", path)
	}
	row.Score = int(s)
	return row, nil
}

// ReadTable reads a header-first table (TSV when sep is '\t', CSV when ','). The image
// column is "image" or "Filename", the score column "UnifiedQualityScore" or
// "QualityScore", an error column "OptionalError" is optional; "NA" is a missing value.
func ReadTable(path string, sep rune) ([]Row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseTable(f, sep)
}

func parseTable(r io.Reader, sep rune) ([]Row, error) {
	cr := csv.NewReader(r)
	cr.Comma = sep
	cr.LazyQuotes = true
	recs, err := cr.ReadAll()
	if err != nil {
		return nil, err
	}
	if len(recs) < 1 {
		return nil, fmt.Errorf("empty table")
	}
	head := recs[0]
	col := func(names ...string) int {
		for i, h := range head {
			for _, n := range names {
				if h == n {
					return i
				}
			}
		}
		return -1
	}
	ci, cs, ce := col("image", "Filename"), col("UnifiedQualityScore", "QualityScore"), col("OptionalError")
	if ci < 0 || cs < 0 {
		return nil, fmt.Errorf("no image or score column")
	}
	var rows []Row
	for _, rec := range recs[1:] {
		if len(rec) != len(head) {
			return nil, fmt.Errorf("row with %d fields, header has %d", len(rec), len(head))
		}
		row := Row{Name: rec[ci], Score: -1, Values: map[string]float64{}}
		if ce >= 0 && rec[ce] != "NA" {
			row.Error = rec[ce]
		}
		if rec[cs] != "NA" {
			s, err := strconv.Atoi(rec[cs])
			if err != nil {
				return nil, fmt.Errorf("%s: score: %w", row.Name, err)
			}
			row.Score = s
		}
		for i, h := range head {
			if i == ci || i == cs || i == ce || rec[i] == "NA" {
				continue
			}
			v, err := strconv.ParseFloat(rec[i], 64)
			if err != nil {
				continue // non-numeric columns (none are measures)
			}
			row.Values[h] = v
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// FindShared returns the path of shared/<rel> beside the repository (walking up from
// the working directory), or "" when it is absent.
func FindShared(rel string) string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		p := filepath.Join(dir, "shared", rel)
		if _, err := os.Stat(p); err == nil {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}
