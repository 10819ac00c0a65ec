package padeval

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"testing"
)

var (
	fitFlag  = flag.Bool("fit", false, "fit the PAD models on the training seeds and print them")
	fitN     = flag.Int("fit.n", 80, "presentations per species and training seed")
	fitSeeds = flag.String("fit.seeds", "101,102", "training seeds")
	fitMod   = flag.String("fit.mod", "", "face or finger (both when empty)")
	fitCache = flag.String("fit.cache", "", "JSON file of training features: read when it exists, else written")
)

// floors are the least scales of the standardised features: a cue whose bona fide
// spread is tiny in the simulation (the sync of a live face is 0.9999) must not get a
// weight that a real camera's slightly imperfect timing would turn into an alarm.
var floors = map[string][]float64{
	"faceModel":         {0.05, 0.1, 0.1, 0.1, 0.5, 0.1},
	"fingerModel":       {0.1, 0.03, 0.03, 0.03, 0.02, 0.01},
	"singleFingerModel": {0.02, 0.01},
}

// sample is one training presentation.
type sample struct {
	x       []float64
	y       float64 // 1 attack
	species string
}

// TestFit fits the logistic models on the training seeds (never the reporting seeds)
// and prints them in the form of liveness/weights.go.
func TestFit(t *testing.T) {
	if !*fitFlag {
		t.Skip("needs -fit")
	}
	var seeds []uint64
	for _, s := range strings.Split(*fitSeeds, ",") {
		var v uint64
		fmt.Sscan(s, &v)
		seeds = append(seeds, v)
	}
	var face, finger, single []sample
	var results []Result
	if *fitCache != "" {
		if b, err := os.ReadFile(*fitCache); err == nil {
			var in []struct {
				Result
				Features []*float64
			}
			if err := json.Unmarshal(b, &in); err != nil {
				t.Fatal(err)
			}
			for _, r := range in {
				r.Result.Features = nil
				for _, v := range r.Features {
					if v == nil {
						r.Result.Features = append(r.Result.Features, math.NaN())
					} else {
						r.Result.Features = append(r.Result.Features, *v)
					}
				}
				results = append(results, r.Result)
			}
			seeds = nil
		}
	}
	for _, seed := range seeds {
		o := Options{Seed: seed, N: *fitN}
		if *fitMod != "" {
			o.Modalities = []string{*fitMod}
		}
		rep, err := Run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		rep.Write(os.Stderr)
		results = append(results, rep.Results...)
	}
	if *fitCache != "" && len(seeds) > 0 {
		// JSON has no NaN: unmeasured cues are stored as null.
		type rec struct {
			Result
			Features []*float64
		}
		var out []rec
		for _, r := range results {
			var f []*float64
			for _, v := range r.Features {
				if math.IsNaN(v) {
					f = append(f, nil)
				} else {
					f = append(f, &v)
				}
			}
			out = append(out, rec{r, f})
		}
		b, err := json.Marshal(out)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(*fitCache, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	{
		for _, r := range results {
			if r.Err != "" || r.Features == nil {
				continue
			}
			y := 0.0
			if r.Attack {
				y = 1
			}
			switch r.Modality {
			case Face:
				face = append(face, sample{r.Features, y, r.Species})
			case Finger:
				// Replays of recorded placements look live by design: the history
				// catches them, the model must not learn them.
				if r.Species == "replay" && (r.Kind == "exact" || r.Kind == "near") {
					continue
				}
				finger = append(finger, sample{r.Features, y, r.Species})
				if r.Species != "replay" {
					single = append(single, sample{r.Features[4:6], y, r.Species})
				}
			}
		}
	}
	if len(face) > 0 {
		fmt.Println(fit("faceModel", []string{"CueOutOfStep", "CueWeak", "CueFlatScene", "CueFlatFace", "CueNoGlints", "CueMoire"}, face))
	}
	if len(finger) > 0 {
		fmt.Println(fit("fingerModel", []string{"CueNoChange", "CueNoSweat", "CueNoFill", "CueNoSpots", "CueUniform", "CueSoftEdges"}, finger))
		fmt.Println(fit("singleFingerModel", []string{"CueUniform", "CueSoftEdges"}, single))
	}
}

// fit runs a class-balanced, L2-regularised logistic regression (Newton's method) on
// standardised features, then moves the bias to minimise the worst of BPCER and the
// per-species APCERs on the training data, and prints the model.
func fit(name string, names []string, data []sample) string {
	d := len(data[0].x)
	// Standardise on the bona fide class.
	mean := make([]float64, d)
	scale := make([]float64, d)
	var nb float64
	for _, s := range data {
		if s.y == 0 {
			for j, v := range s.x {
				if !math.IsNaN(v) {
					mean[j] += v
				}
			}
			nb++
		}
	}
	for j := range mean {
		mean[j] /= nb
	}
	for _, s := range data {
		if s.y == 0 {
			for j, v := range s.x {
				if !math.IsNaN(v) {
					scale[j] += (v - mean[j]) * (v - mean[j])
				}
			}
		}
	}
	for j := range scale {
		scale[j] = math.Max(math.Sqrt(scale[j]/nb), floors[name][j])
	}
	z := func(s sample) []float64 {
		out := make([]float64, d+1)
		out[0] = 1
		for j, v := range s.x {
			if !math.IsNaN(v) {
				out[j+1] = (v - mean[j]) / scale[j]
			}
		}
		return out
	}
	// Weights: bona fide total = attacks total, attack species equal.
	count := map[string]float64{}
	for _, s := range data {
		count[s.species]++
	}
	nAttackSpecies := 0
	for sp := range count {
		if sp != "bona-fide" {
			nAttackSpecies++
		}
	}
	wt := func(s sample) float64 {
		if s.y == 0 {
			return 1 / count[s.species]
		}
		return 1 / count[s.species] / float64(nAttackSpecies)
	}
	beta := make([]float64, d+1)
	const lambda = 0.01
	for it := 0; it < 50; it++ {
		g := make([]float64, d+1)
		H := make([][]float64, d+1)
		for i := range H {
			H[i] = make([]float64, d+1)
		}
		for _, s := range data {
			x := z(s)
			var lin float64
			for j := range x {
				lin += beta[j] * x[j]
			}
			p := 1 / (1 + math.Exp(-lin))
			w := wt(s)
			for j := range x {
				g[j] += w * (p - s.y) * x[j]
				for k := range x {
					H[j][k] += w * p * (1 - p) * x[j] * x[k]
				}
			}
		}
		for j := 1; j <= d; j++ {
			g[j] += lambda * beta[j]
			H[j][j] += lambda
		}
		step := solve(H, g)
		for j := range beta {
			beta[j] -= step[j]
		}
	}
	// Bias: minimise the worst error rate on the training data.
	logit := func(s sample) float64 {
		x := z(s)
		var lin float64
		for j := range x {
			lin += beta[j] * x[j]
		}
		return lin
	}
	worst := func(shift float64) (float64, map[string]float64) {
		errs := map[string]float64{}
		for _, s := range data {
			attack := logit(s)+shift >= 0
			if attack != (s.y == 1) {
				errs[s.species]++
			}
		}
		w := 0.0
		for sp := range errs {
			errs[sp] /= count[sp]
			w = math.Max(w, errs[sp])
		}
		return w, errs
	}
	bestShift, bestW := 0.0, math.Inf(1)
	for sh := -4.0; sh <= 4; sh += 0.05 {
		if w, _ := worst(sh); w < bestW-1e-12 || (w == bestW && math.Abs(sh) < math.Abs(bestShift)) {
			bestShift, bestW = sh, w
		}
	}
	// Centre the bias within the interval of equally good shifts.
	lo, hi := bestShift, bestShift
	for sh := bestShift; sh >= -4; sh -= 0.05 {
		if w, _ := worst(sh); w > bestW {
			break
		}
		lo = sh
	}
	for sh := bestShift; sh <= 4; sh += 0.05 {
		if w, _ := worst(sh); w > bestW {
			break
		}
		hi = sh
	}
	shift := (lo + hi) / 2
	_, errs := worst(shift)
	var b strings.Builder
	var keys []string
	for k := range errs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintf(&b, "// training: %d presentations; errors at threshold 0.5:", len(data))
	for _, k := range keys {
		fmt.Fprintf(&b, " %s %.3f", k, errs[k])
	}
	fmt.Fprintf(&b, "\nvar %s = &model{\n\tNames: []string{%s},\n", name, strings.Join(names, ", "))
	fmt.Fprintf(&b, "\tMean:  %s,\n\tScale: %s,\n\tW:     %s,\n", floats(mean), floats(scale), floats(beta[1:]))
	fmt.Fprintf(&b, "\tBias:  %.4f,\n\tFire:  1.5,\n}\n", beta[0]+shift)
	return b.String()
}

func floats(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprintf("%.4f", x)
	}
	return "[]float64{" + strings.Join(s, ", ") + "}"
}

// solve solves A x = b by Gaussian elimination with partial pivoting.
func solve(A [][]float64, b []float64) []float64 {
	n := len(b)
	M := make([][]float64, n)
	for i := range M {
		M[i] = append(append([]float64(nil), A[i]...), b[i])
	}
	for c := 0; c < n; c++ {
		p := c
		for r := c + 1; r < n; r++ {
			if math.Abs(M[r][c]) > math.Abs(M[p][c]) {
				p = r
			}
		}
		M[c], M[p] = M[p], M[c]
		if math.Abs(M[c][c]) < 1e-15 {
			continue
		}
		for r := c + 1; r < n; r++ {
			f := M[r][c] / M[c][c]
			for k := c; k <= n; k++ {
				M[r][k] -= f * M[c][k]
			}
		}
	}
	x := make([]float64, n)
	for r := n - 1; r >= 0; r-- {
		if math.Abs(M[r][r]) < 1e-15 {
			continue
		}
		s := M[r][n]
		for k := r + 1; k < n; k++ {
			s -= M[r][k] * x[k]
		}
		x[r] = s / M[r][r]
	}
	return x
}
