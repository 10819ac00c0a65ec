package fw

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"time"

	"github.com/captura-claim/captura/agent/cli"
	"github.com/captura-claim/captura/agent/update/rollout"
)

func init() {
	Program.Register(&cli.Command{
		Name:    "fleet",
		Args:    "",
		Summary: "list every station's version, slot, health and update state from the retained status",
		Run:     runFleet,
	})
}

func runFleet(env *cli.Env, fs *flag.FlagSet, args []string) error {
	var bf brokerFlags
	bf.register(fs)
	centre := fs.String("centre", "+", "only this centre (default: all)")
	keysDir := fs.String("station-keys", "", "directory of station public keys (<station>.pub or <centre>/<station>.pub): verify every message")
	wait := fs.Duration("wait", 5*time.Second, "the longest wait for retained messages")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return cli.Usagef("unexpected argument %q", fs.Arg(0))
	}
	ctx, cancel := context.WithCancel(env.Ctx)
	defer cancel()
	mq, err := bf.connect(ctx)
	if err != nil {
		return err
	}
	var kd *rollout.KeyDir
	if *keysDir != "" {
		kd = &rollout.KeyDir{Dir: *keysDir}
	}
	entries, err := rollout.Collect(ctx, mq, *centre, kd, 700*time.Millisecond, *wait)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(entries)
	}
	if len(entries) == 0 {
		fmt.Fprintf(env.Stdout, "no station has a retained status on %s\n", bf.url)
		return nil
	}
	invalid := 0
	for _, e := range entries {
		if e.StatusErr != "" || e.UpdateErr != "" {
			invalid++
		}
	}
	if err := rollout.WriteFleet(env.Stdout, entries, time.Now()); err != nil {
		return err
	}
	if invalid > 0 {
		return fmt.Errorf("%d station(s) sent messages that did not verify", invalid)
	}
	return nil
}
