package minutiae_test

import (
	"encoding/csv"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/captura-claim/captura/agent/biometric/minutiae"
	"github.com/captura-claim/captura/agent/biometric/nfiq2"
)

var sensitivity = flagBool("minutiae.sensitivity", "print how NIST's forest reacts to errors in the four minutiae measures (conformance set)")

// conformanceRows reads NIST's measures of its conformance set (no images).
func conformanceRows(t testing.TB) []nfiq2.Measures {
	p := filepath.Join(sharedDirExt(), "data", "fingerprints", "nfiq2-conformance", "conformance_expected_output-v2.3.0.csv")
	f, err := os.Open(p)
	if err != nil {
		t.Skip("conformance CSV absent: ", err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	var out []nfiq2.Measures
	for _, r := range recs[1:] {
		var ms nfiq2.Measures
		ok := true
		for i, name := range nfiq2.MeasureNames() {
			v, err := strconv.ParseFloat(r[col[name]], 64)
			if err != nil {
				ok = false
				break
			}
			ms[i] = v
		}
		if ok {
			out = append(out, ms)
		}
	}
	return out
}

func sharedDirExt() string {
	d, _ := os.Getwd()
	for {
		c := filepath.Join(filepath.Dir(d), "shared")
		if st, err := os.Stat(filepath.Join(c, "data")); err == nil && st.IsDir() {
			return c
		}
		parent := filepath.Dir(d)
		if parent == d {
			return ""
		}
		d = parent
	}
}

// TestForestSensitivity perturbs one minutiae measure at a time on the conformance rows
// and reports how often the unified score changes, then simulates an extractor that
// misses or adds a few of FingerJet FX's minutiae.
func TestForestSensitivity(t *testing.T) {
	if !*sensitivity {
		t.Skip("development tool: -minutiae.sensitivity")
	}
	m, err := nfiq2.Default()
	if err != nil {
		t.Fatal(err)
	}
	rows := conformanceRows(t)
	var b strings.Builder
	fmt.Fprintf(&b, "\n%d conformance rows\n", len(rows))
	one := func(name string, idx int, deltas []float64) {
		for _, d := range deltas {
			changed, sum := 0, 0
			for _, r := range rows {
				s0, _ := m.Score(&r)
				q := r
				q[idx] += d
				s1, _ := m.Score(&q)
				if s1 != s0 {
					changed++
				}
				sum += abs(s1 - s0)
			}
			fmt.Fprintf(&b, "%-7s %+6.3f: score changes on %5.1f%%, mean |Δ| %.2f\n", name, d, 100*float64(changed)/float64(len(rows)), float64(sum)/float64(len(rows)))
		}
	}
	one("count", nfiq2.MinutiaeCount, []float64{-3, -2, -1, 1, 2, 3})
	one("com200", nfiq2.MinutiaeCountCOM, []float64{-3, -2, -1, 1, 2, 3})
	one("mu2", nfiq2.MinutiaeQualityMu2, []float64{-0.05, -0.02, -0.01, 0.01, 0.02, 0.05})
	one("ocl80", nfiq2.MinutiaeQualityOCL80, []float64{-0.05, -0.02, -0.01, 0.01, 0.02, 0.05})

	// Simulated extractor: of FingerJet FX's n minutiae it misses each with probability
	// pe and adds spurious ones (each of the n with probability pe), a spurious one
	// copying the flags of a random true one; each kept minutia's three flags (in the
	// window, Mu, OCL) flip with probability pf (position jitter).
	simulate(m, rows, &b, "conformance")
	var ref45 []nfiq2.Measures
	for _, c := range minutiae.RefCases(t) {
		res, err := m.Compute(readImage(t, c.Path), 500, nil)
		if err != nil {
			t.Fatal(err)
		}
		ms := res.Measures
		for j, i := range minutiaeIdx {
			ms[i] = c.NIST[j]
		}
		ref45 = append(ref45, ms)
	}
	simulate(m, ref45, &b, "reference 45")
	t.Log(b.String())
}

func simulate(m *nfiq2.Model, rows []nfiq2.Measures, b *strings.Builder, name string) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, pf := range []float64{0, 0.02, 0.05} {
		for _, pe := range []float64{0, 0.01, 0.02, 0.05, 0.1} {
			same, worst, sum, trials, w2 := 0, 0, 0, 0, 0
			for range 40 {
				for _, r := range rows {
					s0, _ := m.Score(&r)
					q := perturb(rng, r, pe, pf)
					s1, _ := m.Score(&q)
					d := abs(s1 - s0)
					if d == 0 {
						same++
					}
					if d > 2 {
						w2++
					}
					worst = max(worst, d)
					sum += d
					trials++
				}
			}
			fmt.Fprintf(b, "%s: miss/add p=%.2f, flag flip %.2f: identical %.1f%%, |Δ|>2 %.1f%%, mean |Δ| %.2f, worst %d\n", name, pe, pf,
				100*float64(same)/float64(trials), 100*float64(w2)/float64(trials), float64(sum)/float64(trials), worst)
		}
	}
}

func perturb(rng *rand.Rand, r nfiq2.Measures, pe, pf float64) nfiq2.Measures {
	n := int(r[nfiq2.MinutiaeCount])
	inC := int(math.Round(r[nfiq2.MinutiaeCountCOM]))
	k2 := int(math.Round(r[nfiq2.MinutiaeQualityMu2] * float64(n)))
	k8 := int(math.Round(r[nfiq2.MinutiaeQualityOCL80] * float64(n)))
	type mf struct{ in, mu, oc bool }
	ms := make([]mf, n)
	for i := range ms {
		ms[i] = mf{i < inC, i < k2, i < k8}
	}
	rng.Shuffle(n, func(i, j int) { ms[i].mu, ms[j].mu = ms[j].mu, ms[i].mu })
	rng.Shuffle(n, func(i, j int) { ms[i].oc, ms[j].oc = ms[j].oc, ms[i].oc })
	var got []mf
	for _, x := range ms {
		if rng.Float64() >= pe {
			got = append(got, x)
		}
	}
	for range n {
		if rng.Float64() < pe {
			got = append(got, ms[rng.IntN(n)])
		}
	}
	q := r
	var c, a, o int
	for _, x := range got {
		if rng.Float64() < pf {
			x.in = !x.in
		}
		if rng.Float64() < pf {
			x.mu = !x.mu
		}
		if rng.Float64() < pf {
			x.oc = !x.oc
		}
		if x.in {
			c++
		}
		if x.mu {
			a++
		}
		if x.oc {
			o++
		}
	}
	q[nfiq2.MinutiaeCount] = float64(len(got))
	q[nfiq2.MinutiaeCountCOM] = float64(c)
	q[nfiq2.MinutiaeQualityMu2] = float64(a) / float64(len(got))
	q[nfiq2.MinutiaeQualityOCL80] = float64(o) / float64(len(got))
	return q
}
