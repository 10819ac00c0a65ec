package nfiq2_test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/captura-claim/captura/agent/biometric/nfiq2"
	"github.com/captura-claim/captura/agent/biometric/nfiq2/internal/reference"
	"github.com/captura-claim/captura/drivers/fingerprint/fpimage"
)

// The native measures that do not come from minutiae must be within 1e-4 (relative) of
// NIST's on the reference images.
const maxRelErr = 1e-4

type refImage struct {
	path string
	row  reference.Row
}

func sfingeImages(t *testing.T) []refImage {
	t.Helper()
	outs, err := filepath.Glob("testdata/sfinge/*_output.txt")
	if err != nil || len(outs) != 5 {
		t.Fatalf("SFinGe outputs: %v (%d)", err, len(outs))
	}
	var imgs []refImage
	for _, o := range outs {
		row, err := reference.ReadExampleOutput(o)
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, refImage{strings.TrimSuffix(o, "_output.txt") + ".pgm", *row})
	}
	return imgs
}

// fvcImages returns the FVC2002 DB1_B images NIST scored, read from the evaluation-only
// data beside the repository; the test is skipped when that data is absent.
func fvcImages(t *testing.T) []refImage {
	t.Helper()
	dir := reference.FindShared(filepath.Join("data", "fingerprints", "eval-only", "fvc2002-db1b"))
	if dir == "" {
		t.Skip("evaluation-only FVC2002 images not available beside the repository")
	}
	rows, err := reference.ReadTable("testdata/fvc/fvc2002-db1b-101-105-nfiq2-reference.tsv", '\t')
	if err != nil {
		t.Fatal(err)
	}
	var imgs []refImage
	for _, r := range rows {
		p := filepath.Join(dir, strings.TrimSuffix(r.Name, ".pgm")+".tif")
		if _, err := os.Stat(p); err != nil {
			t.Skipf("%s missing", p)
		}
		imgs = append(imgs, refImage{p, r})
	}
	return imgs
}

func relErr(got, want float64) float64 {
	if got == want {
		return 0
	}
	d := math.Abs(got - want)
	if want == 0 {
		return math.Inf(1)
	}
	return d / math.Abs(want)
}

// compareMeasures computes every image and returns, per measure, the worst relative
// error and the image where it occurred.
func compareMeasures(t *testing.T, imgs []refImage) (worst [nfiq2.NumMeasures]float64, where [nfiq2.NumMeasures]string) {
	t.Helper()
	for _, ri := range imgs {
		res := computeRef(t, ri)
		for i, name := range nfiq2.MeasureNames() {
			if nfiq2.FromMinutiae(i) {
				continue
			}
			want, ok := ri.row.Values[name]
			if !ok {
				t.Fatalf("%s: reference lacks %s", ri.row.Name, name)
			}
			if e := relErr(res.Measures[i], want); e > worst[i] || where[i] == "" {
				worst[i], where[i] = e, fmt.Sprintf("%s (%.9g vs NIST %.9g)", ri.row.Name, res.Measures[i], want)
			}
		}
		for _, a := range []struct {
			name string
			got  float64
		}{
			{"UniformImage", res.Actionable.UniformImage.Value},
			{"EmptyImageOrContrastTooLow", res.Actionable.EmptyImageOrContrastTooLow.Value},
			{"SufficientFingerprintForeground", res.Actionable.SufficientFingerprintForeground.Value},
		} {
			if want := ri.row.Values[a.name]; relErr(a.got, want) > maxRelErr {
				t.Errorf("%s: %s = %.9g, NIST %.9g", ri.row.Name, a.name, a.got, want)
			}
		}
	}
	return worst, where
}

func checkMeasures(t *testing.T, set string, imgs []refImage) {
	worst, where := compareMeasures(t, imgs)
	var lines []string
	for i, name := range nfiq2.MeasureNames() {
		if nfiq2.FromMinutiae(i) {
			continue
		}
		lines = append(lines, fmt.Sprintf("%-40s %9.2e  %s", name, worst[i], where[i]))
		if worst[i] > maxRelErr {
			t.Errorf("%s: %s worst relative error %.3g > %g at %s", set, name, worst[i], maxRelErr, where[i])
		}
	}
	sort.Strings(lines)
	t.Logf("%s: worst relative error per measure over %d images:\n%s", set, len(imgs), strings.Join(lines, "\n"))
}

func TestMeasuresSFinGe(t *testing.T) { checkMeasures(t, "SFinGe", sfingeImages(t)) }

func TestMeasuresFVC2002(t *testing.T) { checkMeasures(t, "FVC2002 DB1_B", fvcImages(t)) }

var (
	refMu      sync.Mutex
	refResults = map[string]*nfiq2.Result{}
)

// computeRef computes a reference image without minutiae, once per test binary.
func computeRef(t *testing.T, ri refImage) *nfiq2.Result {
	t.Helper()
	refMu.Lock()
	defer refMu.Unlock()
	if r, ok := refResults[ri.path]; ok {
		return r
	}
	m, err := nfiq2.Default()
	if err != nil {
		t.Fatal(err)
	}
	img, err := fpimage.ReadFile(ri.path, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := m.Compute(img, 500, nil)
	if err != nil {
		t.Fatalf("%s: %v", ri.row.Name, err)
	}
	refResults[ri.path] = res
	return res
}

func fvcPath(tb testing.TB, name string) string {
	dir := reference.FindShared(filepath.Join("data", "fingerprints", "eval-only", "fvc2002-db1b"))
	if dir == "" {
		tb.Skip("evaluation-only FVC2002 images not available beside the repository")
	}
	return filepath.Join(dir, name)
}

func fvcPathOrEmpty() string {
	return reference.FindShared(filepath.Join("data", "fingerprints", "eval-only", "fvc2002-db1b"))
}

// readHeader returns the measure columns of NIST's CSV header: those after the
// actionable feedback and before the timings.
func readHeader(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	head, _, _ := strings.Cut(string(b), "\n")
	var out []string
	on := false
	for _, f := range strings.Split(head, ",") {
		f = strings.Trim(f, `"`)
		switch {
		case f == "SufficientFingerprintForeground":
			on = true
		case strings.HasSuffix(f, "Speed"):
			on = false
		case on:
			out = append(out, f)
		}
	}
	return out, nil
}
