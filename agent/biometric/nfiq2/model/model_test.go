package model_test

import (
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"encoding/hex"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/captura-claim/captura/agent/biometric/nfiq2"
	"github.com/captura-claim/captura/agent/biometric/nfiq2/internal/reference"
	"github.com/captura-claim/captura/agent/biometric/nfiq2/model"
	"github.com/captura-claim/captura/agent/biometric/nfiq2/model/internal/cvyaml"
)

func forest(t testing.TB) *model.Forest {
	t.Helper()
	f, err := model.Default()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestEmbeddedForest(t *testing.T) {
	f := forest(t)
	if f.Trees() != 100 || f.Features() != 69 || f.Nodes() != 138428 {
		t.Errorf("trees %d features %d nodes %d, want 100, 69, 138428", f.Trees(), f.Features(), f.Nodes())
	}
	b, err := os.ReadFile("SOURCE.md5")
	if err != nil {
		t.Fatal(err)
	}
	recorded := strings.Fields(string(b))[0]
	if f.SourceMD5() != recorded || recorded != model.SourceMD5NISTPlainTIRInk {
		t.Errorf("embedded md5 %s, SOURCE.md5 %s, constant %s", f.SourceMD5(), recorded, model.SourceMD5NISTPlainTIRInk)
	}
	again, err := f.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, model.NISTPlainTIRInkBytes()) {
		t.Error("decode then encode does not give the embedded bytes back")
	}
}

// TestEmbeddedMatchesSource regenerates the forest from NIST's YAML (when ../shared is
// present) and checks that it gives exactly the embedded bytes.
func TestEmbeddedMatchesSource(t *testing.T) {
	src := reference.FindShared(filepath.Join("data", "models", "nfiq2", "nist_plain_tir-ink.yaml.gz"))
	if src == "" {
		t.Skip("NIST model source not available beside the repository")
	}
	fh, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	zr, err := gzip.NewReader(fh)
	if err != nil {
		t.Fatal(err)
	}
	yaml, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum(yaml)
	if hex.EncodeToString(sum[:]) != model.SourceMD5NISTPlainTIRInk {
		t.Fatalf("source md5 %x", sum)
	}
	p, err := cvyaml.Parse(bytes.NewReader(yaml))
	if err != nil {
		t.Fatal(err)
	}
	f, err := model.New(p.Features, p.Trees, sum)
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, model.NISTPlainTIRInkBytes()) {
		t.Error("regenerated forest differs from the embedded one: run go generate")
	}
}

func features(t testing.TB, row reference.Row) []float64 {
	t.Helper()
	x := make([]float64, nfiq2.NumMeasures)
	for i, name := range nfiq2.MeasureNames() {
		v, ok := row.Values[name]
		if !ok {
			t.Fatalf("%s: no %s", row.Name, name)
		}
		x[i] = v
	}
	return x
}

// TestScoreFVCReference: NIST's own full-precision measures give exactly NIST's score.
func TestScoreFVCReference(t *testing.T) {
	rows, err := reference.ReadTable("../testdata/fvc/fvc2002-db1b-101-105-nfiq2-reference.tsv", '\t')
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 40 {
		t.Fatalf("%d rows, want 40", len(rows))
	}
	f := forest(t)
	for _, row := range rows {
		got, err := f.Score(features(t, row))
		if err != nil {
			t.Fatal(err)
		}
		if got != row.Score {
			t.Errorf("%s: score %d, NIST %d", row.Name, got, row.Score)
		}
	}
}

// TestScoreRoundedReferences: with measures rounded by NIST's output, the score is
// NIST's on at least 98% of the images and within 1 on all.
func TestScoreRoundedReferences(t *testing.T) {
	var rows []reference.Row
	paths, _ := filepath.Glob("../testdata/sfinge/*_output.txt")
	if len(paths) != 5 {
		t.Fatalf("%d SFinGe outputs, want 5", len(paths))
	}
	for _, p := range paths {
		r, err := reference.ReadExampleOutput(p)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, *r)
	}
	conf, err := reference.ReadTable("../testdata/conformance/conformance_expected_output-v2.3.0.csv", ',')
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range conf {
		if r.Score >= 0 {
			rows = append(rows, r)
		}
	}
	f := forest(t)
	same, worst := 0, 0
	for _, row := range rows {
		got, err := f.Score(features(t, row))
		if err != nil {
			t.Fatal(err)
		}
		d := got - row.Score
		if d < 0 {
			d = -d
		}
		if d == 0 {
			same++
		} else {
			t.Logf("%s: score %d, NIST %d", row.Name, got, row.Score)
		}
		worst = max(worst, d)
	}
	frac := float64(same) / float64(len(rows))
	t.Logf("rounded references: %d/%d identical (%.2f%%), worst difference %d", same, len(rows), 100*frac, worst)
	if len(rows) != 5+199 {
		t.Errorf("%d scored rows, want 204", len(rows))
	}
	if frac < 0.98 || worst > 1 {
		t.Errorf("identical on %.2f%% (want >= 98%%), worst difference %d (want <= 1)", 100*frac, worst)
	}
}

func TestScoreArithmetic(t *testing.T) {
	// A one-feature forest of three stumps, to check comparisons in float32 and the
	// +0.5 truncation of the summed leaf values.
	stump := func(l, r float64) []model.Node {
		return []model.Node{{Feature: 0, Threshold: 0.5}, {Leaf: true, Value: l}, {Leaf: true, Value: r}}
	}
	f, err := model.New(1, [][]model.Node{stump(0, 1), stump(0, 1), stump(0.25, 0.75)}, [16]byte{})
	if err != nil {
		t.Fatal(err)
	}
	// Left: 0+0+0.25 = 0.25 -> int(0.75) = 0. Right: 1+1+0.75 = 2.75 -> int(3.25) = 3.
	for _, tc := range []struct {
		x    float64
		want int
	}{
		{0.5, 0},
		{0.5000001, 3},
		{math.NaN(), 3},      // NaN goes right, as in OpenCV
		{math.Inf(-1), 0},    // left
		{math.Inf(1), 3},     // right
		{0.50000001, 0},      // float32(x) == 0.5: left
		{0.4999999999999, 0}, // float32(x) == 0.5
		{-1e300, 0},          // float32 -Inf: left
		{1e300, 3},           // float32 +Inf: right
	} {
		got, err := f.Score([]float64{tc.x})
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("x=%v: score %d, want %d", tc.x, got, tc.want)
		}
	}
	if _, err := f.Score([]float64{1, 2}); err == nil {
		t.Error("wrong feature count accepted")
	}
}

func TestNewRejects(t *testing.T) {
	leaf := model.Node{Leaf: true}
	split := model.Node{Feature: 0}
	for name, trees := range map[string][][]model.Node{
		"no trees":      nil,
		"empty tree":    {{}},
		"incomplete":    {{split, leaf}},
		"incomplete2":   {{split, split, leaf, leaf}},
		"extra nodes":   {{leaf, leaf}},
		"extra nodes 2": {{split, leaf, leaf, leaf}},
		"bad feature":   {{{Feature: 3}, leaf, leaf}},
	} {
		if _, err := model.New(2, trees, [16]byte{}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	good := model.NISTPlainTIRInkBytes()
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x40
		return b
	}
	for name, tc := range map[string]struct {
		in   []byte
		want string
	}{
		"empty":     {nil, "too short"},
		"magic":     {flip(0), "bad magic"},
		"checksum":  {flip(100), "checksum"},
		"truncated": {good[:len(good)/2], "checksum"},
	} {
		_, err := model.Decode(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, tc.want)
		}
	}
}

func BenchmarkLoad(b *testing.B) {
	data := model.NISTPlainTIRInkBytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := model.Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkScore(b *testing.B) {
	f := forest(b)
	rows, err := reference.ReadTable("../testdata/fvc/fvc2002-db1b-101-105-nfiq2-reference.tsv", '\t')
	if err != nil {
		b.Fatal(err)
	}
	x := features(b, rows[0])
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.Score(x); err != nil {
			b.Fatal(err)
		}
	}
}
