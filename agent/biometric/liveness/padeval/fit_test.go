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
	fitFlag    = flag.Bool("fit", false, "fit the PAD models on the training seeds and print them")
	fitN       = flag.Int("fit.n", 80, "presentations per species and training seed")
	fitSeeds   = flag.String("fit.seeds", "101,102", "training seeds")
	fitMod     = flag.String("fit.mod", "", "face or finger (both when empty)")
	fitCache   = flag.String("fit.cache", "", "JSON file of training features: read when it exists, else written")
	fitFolds   = flag.Int("fit.folds", 0, "also cross-validate over this many consecutive folds (one per training seed)")
	fitReader  = flag.String("fit.reader", "R307", "simulated finger module of the training runs")
	fitReplays = flag.String("fit.replays", "none", "replays in the finger model's training: static (static kinds only) or none")
)

// floors are the least scales of the standardised features: a cue whose bona fide
// spread is tiny in the simulation (the sync of a live face is 0.9999) must not get a
// weight that a real camera's slightly imperfect timing would turn into an alarm.
var floors = map[string][]float64{
	"faceModel":         {0.05, 0.1, 0.1, 0.1, 0.5, 0.1},
	"fingerModel":       {0.1, 0.03, 0.03, 0.03, 0.02, 0.01, 0.01, 0.005, 0.005},
	"singleFingerModel": {0.02, 0.01, 0.01, 0.005, 0.005},
}

// sample is one training presentation.
type sample struct {
	x       []float64
	y       float64 // 1 attack
	species string
	fold    int
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
		o := Options{Seed: seed, N: *fitN, Reader: *fitReader}
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
		for ri, r := range results {
			fold := 0
			if *fitFolds > 0 {
				fold = ri * *fitFolds / len(results)
			}
			if r.Err != "" || r.Features == nil {
				continue
			}
			y := 0.0
			if r.Attack {
				y = 1
			}
			switch r.Modality {
			case Face:
				face = append(face, sample{r.Features, y, r.Species, fold})
			case Finger:
				// Replays of recorded placements look live by design: the history
				// catches them, the model must not learn them.
				if r.Species == "replay" && (*fitReplays == "none" || r.Kind == "exact" || r.Kind == "near") {
					continue
				}
				finger = append(finger, sample{r.Features, y, r.Species, fold})
				if r.Species != "replay" {
					single = append(single, sample{r.Features[4:9], y, r.Species, fold})
				}
			}
		}
	}
	for k := 0; k < *fitFolds; k++ {
		for _, set := range []struct {
			name  string
			names []string
			data  []sample
		}{{"faceModel", nil, face}, {"fingerModel", nil, finger}, {"singleFingerModel", nil, single}} {
			var train, test []sample
			for _, s := range set.data {
				if s.fold == k {
					test = append(test, s)
				} else {
					train = append(train, s)
				}
			}
			if len(train) == 0 || len(test) == 0 {
				continue
			}
			m := fitModel(set.name, train)
			fmt.Printf("fold %d %s: held-out errors %s\n", k, set.name, m.errors(test))
		}
	}
	for _, set := range []struct {
		name string
		data []sample
	}{{"face", face}, {"finger", finger}} {
		for j := 0; len(set.data) > 0 && j < len(set.data[0].x); j++ {
			fmt.Printf("%s cue %d alone: best single threshold gives a worst error rate of %.3f\n", set.name, j, alone(set.data, j))
		}
	}
	if len(face) > 0 {
		fmt.Println(fit("faceModel", []string{"CueOutOfStep", "CueWeak", "CueFlatScene", "CueFlatFace", "CueNoGlints", "CueMoire"}, face))
	}
	suffix := ""
	if *fitReader != "R307" {
		suffix = strings.NewReplacer("-", "", "F52", "").Replace(*fitReader)
	}
	if len(finger) > 0 {
		fmt.Println(fit("fingerModel"+suffix, []string{"CueNoChange", "CueNoSweat", "CueNoFill", "CueNoSpots", "CueUniform", "CueSoftEdges", "CueThinRidges", "CueSmooth", "CueSmoothCrest"}, finger))
		fmt.Println(fit("singleFingerModel"+suffix, []string{"CueUniform", "CueSoftEdges", "CueThinRidges", "CueSmooth", "CueSmoothCrest"}, single))
	}
}

// fitted is a fitted logistic model on standardised features.
type fitted struct {
	mean, scale []float64
	beta        []float64 // bias first
	shift       float64   // added to the bias
}

func (f *fitted) logit(s sample) float64 {
	lin := f.beta[0] + f.shift
	for j, v := range s.x {
		if !math.IsNaN(v) {
			lin += f.beta[j+1] * (v - f.mean[j]) / f.scale[j]
		}
	}
	return lin
}

// rates are the error rates per species at threshold 0.5.
func (f *fitted) rates(data []sample) map[string]float64 {
	errs, count := map[string]float64{}, map[string]float64{}
	for _, s := range data {
		count[s.species]++
		if (f.logit(s) >= 0) != (s.y == 1) {
			errs[s.species]++
		}
	}
	for sp := range count {
		errs[sp] /= count[sp]
	}
	return errs
}

func (f *fitted) errors(data []sample) string {
	r := f.rates(data)
	var keys []string
	for k := range r {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, " %s %.3f", k, r[k])
	}
	return b.String()
}

// fitModel runs a class-balanced, L2-regularised logistic regression (Newton's method)
// on standardised features, then moves the bias to the middle of the interval that
// minimises the worst of BPCER and the per-species APCERs on the training data.
func fitModel(name string, data []sample) *fitted {
	name = strings.TrimRight(strings.TrimSuffix(strings.TrimSuffix(name, "R503"), "GT521"), "0123456789")
	d := len(data[0].x)
	f := &fitted{mean: make([]float64, d), scale: make([]float64, d), beta: make([]float64, d+1)}
	var nb float64
	for _, s := range data {
		if s.y == 0 {
			for j, v := range s.x {
				if !math.IsNaN(v) {
					f.mean[j] += v
				}
			}
			nb++
		}
	}
	for j := range f.mean {
		f.mean[j] /= nb
	}
	for _, s := range data {
		if s.y == 0 {
			for j, v := range s.x {
				if !math.IsNaN(v) {
					f.scale[j] += (v - f.mean[j]) * (v - f.mean[j])
				}
			}
		}
	}
	for j := range f.scale {
		f.scale[j] = math.Max(math.Sqrt(f.scale[j]/nb), floors[name][j])
	}
	z := func(s sample) []float64 {
		out := make([]float64, d+1)
		out[0] = 1
		for j, v := range s.x {
			if !math.IsNaN(v) {
				out[j+1] = (v - f.mean[j]) / f.scale[j]
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
				lin += f.beta[j] * x[j]
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
			g[j] += lambda * f.beta[j]
			H[j][j] += lambda
		}
		step := solve(H, g)
		for j := range f.beta {
			f.beta[j] -= step[j]
		}
	}
	worst := func(shift float64) float64 {
		f.shift = shift
		w := 0.0
		for _, r := range f.rates(data) {
			w = math.Max(w, r)
		}
		return w
	}
	bestW := math.Inf(1)
	var lo, hi float64
	for sh := -4.0; sh <= 4; sh += 0.05 {
		w := worst(sh)
		switch {
		case w < bestW-1e-12:
			bestW, lo, hi = w, sh, sh
		case w <= bestW+1e-12 && sh-hi < 0.051:
			hi = sh
		}
	}
	f.shift = (lo + hi) / 2
	return f
}

// fit fits a model and prints it in the form of liveness/weights.go.
func fit(name string, names []string, data []sample) string {
	f := fitModel(name, data)
	var b strings.Builder
	fmt.Fprintf(&b, "// training: %d presentations; errors at threshold 0.5:%s\n", len(data), f.errors(data))
	fmt.Fprintf(&b, "var %s = &model{\n\tNames: []string{%s},\n", name, strings.Join(names, ", "))
	fmt.Fprintf(&b, "\tMean:  %s,\n\tScale: %s,\n\tW:     %s,\n", floats(f.mean), floats(f.scale), floats(f.beta[1:]))
	fmt.Fprintf(&b, "\tBias:  %.4f,\n\tFire:  1.5,\n}\n", f.beta[0]+f.shift)
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

// alone is the worst per-species error rate of the best single threshold on cue j, in
// either direction: how far one cue goes by itself.
func alone(data []sample, j int) float64 {
	var vals []float64
	for _, s := range data {
		if !math.IsNaN(s.x[j]) {
			vals = append(vals, s.x[j])
		}
	}
	sort.Float64s(vals)
	best := 1.0
	for _, t := range vals {
		for _, dir := range []float64{1, -1} {
			errs, count := map[string]float64{}, map[string]float64{}
			for _, s := range data {
				if math.IsNaN(s.x[j]) {
					continue
				}
				count[s.species]++
				attack := dir*(s.x[j]-t) >= 0
				if attack != (s.y == 1) {
					errs[s.species]++
				}
			}
			w := 0.0
			for sp := range count {
				w = math.Max(w, errs[sp]/count[sp])
			}
			best = math.Min(best, w)
		}
	}
	return best
}
