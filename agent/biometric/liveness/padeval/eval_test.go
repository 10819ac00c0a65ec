package padeval

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"testing"
)

var (
	evalFlag = flag.Bool("eval", false, "run an evaluation (-eval.seed, -eval.n, -eval.mod)")
	evalSeed = flag.Uint64("eval.seed", 1, "evaluation seed")
	evalN    = flag.Int("eval.n", 20, "presentations per species")
	evalMod  = flag.String("eval.mod", "", "face or finger (both when empty)")
	evalRdr  = flag.String("eval.reader", "R307", "simulated finger module")
)

func TestEval(t *testing.T) {
	if !*evalFlag {
		t.Skip("needs -eval")
	}
	o := Options{Seed: *evalSeed, N: *evalN, Reader: *evalRdr}
	if *evalMod != "" {
		o.Modalities = []string{*evalMod}
	}
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	rep.Write(os.Stdout)
	dumpFeatures(rep)
	fmt.Printf("elapsed %v\n", rep.Elapsed)
}

func dumpFeatures(rep *Report) {
	type key struct{ m, s string }
	by := map[key][][]float64{}
	var keys []key
	for _, r := range rep.Results {
		if r.Err != "" {
			fmt.Printf("  not acquired: %s %s %d: %s\n", r.Modality, r.Species, r.Index, r.Err)
			continue
		}
		k := key{r.Modality, r.Species}
		if _, ok := by[k]; !ok {
			keys = append(keys, k)
		}
		by[k] = append(by[k], r.Features)
		if (r.Decision == "attack") != r.Attack {
			fmt.Printf("  wrong: %s %s %d kind %q score %.3f cues %v feats %.3f replay %+v\n", r.Modality, r.Species, r.Index, r.Kind, r.Score, r.Cues, r.Features, r.Replay)
		}
	}
	for _, k := range keys {
		rows := by[k]
		if len(rows) == 0 || len(rows[0]) == 0 {
			continue
		}
		fmt.Printf("%s %s:\n", k.m, k.s)
		for j := range rows[0] {
			var v []float64
			for _, r := range rows {
				if j < len(r) {
					v = append(v, r[j])
				}
			}
			sort.Float64s(v)
			q := func(p float64) float64 { return v[int(p*float64(len(v)-1))] }
			fmt.Printf("  f%d: min %.3f p10 %.3f p50 %.3f p90 %.3f max %.3f\n", j, v[0], q(0.1), q(0.5), q(0.9), v[len(v)-1])
		}
	}
}
