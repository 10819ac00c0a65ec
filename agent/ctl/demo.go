package ctl

import (
	"flag"
	"fmt"
	"strings"
	"sync"

	"github.com/captura-claim/captura/agent/cli"
	"github.com/captura-claim/captura/agent/demo"
	"github.com/captura-claim/captura/protocol"
)

func init() {
	Program.Register(&cli.Command{
		Name:    "demo",
		Summary: "run a whole counter on this machine: simulated station, broker, gateway and tablet",
		Run:     runDemo,
	})
}

func runDemo(env *cli.Env, fs *flag.FlagSet, args []string) error {
	dir := fs.String("dir", "", "keep keys, state, gateway store and logs in DIR (default: a temporary directory, removed)")
	images := fs.String("images", "", "directory of fingerprint images for the simulated reader (default: synthetic live fingers; static images raise PAD alarms)")
	reader := fs.String("reader", "R307", "simulated fingerprint module: R307 or AS608 (optical, 256×288)")
	frames := fs.Int("pad-frames", 0, "finger images per placement for the PAD, 1 or 2 (default: 1 paced, to fit the session in a minute; 2 with --fast)")
	fast := fs.Bool("fast", false, "do not pace the reader's bytes at the line rate")
	seed := fs.Uint64("seed", 1, "seed of the simulated reader")
	faceSeed := fs.Uint64("face-seed", 3, "seed of the simulated applicant in front of the camera")
	fingers := fs.String("fingers", "", "finger positions, e.g. 2,7 (default: all ten)")
	noFace := fs.Bool("no-face", false, "skip the face")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	o := demo.Options{Dir: *dir, Images: *images, Reader: *reader, FingerFrames: *frames, Fast: *fast, Seed: *seed, FaceSeed: *faceSeed, Face: !*noFace}
	if *fingers != "" {
		for _, f := range strings.Split(*fingers, ",") {
			it, err := parseItem(strings.TrimSpace(f))
			if err != nil || it.Mod != protocol.ModFinger {
				return cli.Usagef("--fingers: %q is not a finger position", f)
			}
			o.Fingers = append(o.Fingers, it.Pos)
		}
	}
	pr := &progressPrinter{w: env.Stdout}
	var mu sync.Mutex
	o.Progress = func(p *protocol.Progress) {
		mu.Lock()
		defer mu.Unlock()
		pr.event(p)
	}
	o.Record = func(rec *protocol.Record, e *protocol.Envelope, body *protocol.Body) {
		fmt.Fprintln(env.Stdout, "\n--- the record as the gateway verified it ---")
		WriteRecordSummary(env.Stdout, rec, e)
		fmt.Fprintf(env.Stdout, "--- opened with the AIMA key: %d standard records ---\n", len(body.Items))
		writeBodyList(env.Stdout, body)
		fmt.Fprintln(env.Stdout)
	}
	err := demo.Run(env.Ctx, env.Stdout, o)
	if err != nil && env.Ctx.Err() != nil {
		// Ctrl-C: every component has stopped (broker, gateway, station, simulators).
		fmt.Fprintln(env.Stdout, "interrupted: station, gateway, broker and simulators stopped")
		return &cli.ExitError{Code: 130}
	}
	return err
}
