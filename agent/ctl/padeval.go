package ctl

import (
	"crypto/rand"
	"encoding/binary"
	"flag"
	"fmt"

	"github.com/captura-claim/captura/agent/biometric/liveness/padeval"
	"github.com/captura-claim/captura/agent/cli"
	"github.com/captura-claim/captura/agent/config"
)

func init() {
	Program.Register(&cli.Command{
		Name:    "pad-eval",
		Args:    "",
		Summary: "evaluate presentation-attack detection on simulated presentations (APCER, BPCER per species)",
		Run:     runPADEval,
	})
}

func runPADEval(env *cli.Env, fs *flag.FlagSet, args []string) error {
	seed := fs.Uint64("seed", 0, "seed of the presentations (default: a fresh random seed, printed)")
	n := fs.Int("n", 20, "presentations per species")
	only := fs.String("only", "", "evaluate one modality: face or finger")
	reader := fs.String("reader", "R307", "simulated fingerprint module: R307, R503 or GT-521F52")
	cfgPath := fs.String("config", "", "agent configuration file for pad.face_threshold, pad.finger_threshold, pad.history and pad.finger_frames (default: the built-in defaults)")
	frames := fs.Int("frames", 0, "finger images per placement, 1 or 2 (default: pad.finger_frames, 2)")
	verbose := fs.Bool("v", false, "list every misclassified presentation with its score and cues")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef("unexpected argument %q", fs.Arg(0))
	}
	if *n < 1 || *n > 100000 {
		return cli.Usagef("--n %d: want 1-100000", *n)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["seed"] {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return err
		}
		*seed = binary.BigEndian.Uint64(b[:]) >> 1
		fmt.Fprintf(env.Stdout, "fresh seed %d (repeat with --seed %d)\n", *seed, *seed)
	}
	cfg := config.Default()
	if *cfgPath != "" {
		c, err := config.Load(*cfgPath)
		if err != nil {
			return err
		}
		cfg = c
	}
	o := padeval.Options{Seed: *seed, N: *n, Reader: *reader, FaceThreshold: cfg.PAD.FaceThreshold,
		FingerThreshold: cfg.PAD.FingerThreshold, History: cfg.PAD.History, FingerFrames: cfg.PAD.FingerFrames}
	switch *frames {
	case 0:
	case 1, 2:
		o.FingerFrames = *frames
	default:
		return cli.Usagef("--frames %d: want 1 or 2", *frames)
	}
	switch *only {
	case "":
	case padeval.Face, padeval.Finger:
		o.Modalities = []string{*only}
	default:
		return cli.Usagef("--only %q: want face or finger", *only)
	}
	if _, _, err := padeval.ReaderTiming(*reader); err != nil {
		return cli.Usagef("--reader %q: want R307, R503 or GT-521F52", *reader)
	}
	if o.History == 0 {
		o.History = -1 // configured off: no replay history
	}
	last := -1
	o.Progress = func(done, total int) {
		if p := 10 * done / total; p != last && done < total {
			last = p
			fmt.Fprintf(env.Stderr, "pad-eval: %d of %d presentations\n", done, total)
		}
	}
	rep, err := padeval.Run(env.Ctx, o)
	if err != nil {
		return fmt.Errorf("pad-eval: %w", err)
	}
	if err := rep.Write(env.Stdout); err != nil {
		return err
	}
	if *verbose {
		for _, r := range rep.Results {
			switch {
			case r.Err != "":
				fmt.Fprintf(env.Stdout, "not acquired: %s %s #%d: %s\n", r.Modality, r.Species, r.Index, r.Err)
			case (r.Decision == "attack") != r.Attack:
				fmt.Fprintf(env.Stdout, "misclassified: %s %s #%d %s: score %.3f cues %v\n", r.Modality, r.Species, r.Index, r.Kind, r.Score, r.Cues)
			}
		}
	}
	fmt.Fprintf(env.Stdout, "elapsed %s\n", rep.Elapsed.Round(1e8))
	return nil
}
