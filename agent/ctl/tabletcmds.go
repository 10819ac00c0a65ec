package ctl

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/captura-claim/captura/agent/cli"
	"github.com/captura-claim/captura/agent/fsutil"
	"github.com/captura-claim/captura/agent/mqttc"
	"github.com/captura-claim/captura/agent/tablet"
	"github.com/captura-claim/captura/firmware-tools/provision"
	"github.com/captura-claim/captura/protocol"
)

func init() {
	for _, c := range []*cli.Command{
		{Name: "pair", Summary: "pair this tablet with a station (its pairing window must be open)", Run: runPair},
		{Name: "unpair", Summary: "unpair a tablet (this one by default) from the station", Run: runUnpair},
		{Name: "capture", Summary: "run a capture session with live progress; prints the record id", Run: runCapture},
		{Name: "status", Summary: "ask the station for its status", Run: simpleCommand(protocol.CmdStatus)},
		{Name: "tablets", Summary: "list the tablets paired with the station", Run: simpleCommand(protocol.CmdTablets)},
		{Name: "cancel", Summary: "cancel the running capture session", Run: simpleCommand(protocol.CmdCaptureCancel)},
		{Name: "retry", Args: "ITEM", Summary: "capture an item again (ITEM: a finger position 1-10 or face)", Run: itemCommand(protocol.CmdCaptureRetry)},
		{Name: "override", Args: "ITEM REASON", Summary: "keep an item's best attempt although it is below the threshold", Run: itemCommand(protocol.CmdCaptureOverride)},
		{Name: "missing", Args: "FINGER REASON", Summary: "mark a finger missing: amputated, bandaged, damaged or unable", Run: itemCommand(protocol.CmdCaptureMissing)},
		{Name: "watch", Summary: "follow the station's progress events until interrupted", Run: runWatch},
	} {
		Program.Register(c)
	}
}

func runPair(env *cli.Env, fs *flag.FlagSet, args []string) error {
	dir := profileFlag(fs, env.Getenv)
	label := fs.String("label", "", "the station label's QR code content (captura://pair?...), instead of --station/--centre/--secret")
	station := fs.String("station", "", "station id")
	centre := fs.String("centre", "", "centre id")
	secret := fs.String("secret", "", "setup secret from the station's label")
	name := fs.String("name", "", "this tablet's name ([a-z0-9-]{1,64}), e.g. tablet-balcao-3")
	broker := fs.String("broker", "", "broker URL, e.g. ssl://gateway.local:8883")
	timeout := fs.Duration("timeout", 30*time.Second, "how long to wait for the station's answer")
	tf := addTLSFlags(fs)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	var sec []byte
	var err error
	if *label != "" {
		if *centre, *station, sec, _, err = provision.ParseLabelURI(*label); err != nil {
			return err
		}
	} else if sec, err = protocol.ParseSecret(*secret); err != nil {
		return cli.WithHint(err, "give --secret as printed on the label, or --label with the QR code's content")
	}
	if !protocol.ValidID(*station) || !protocol.ValidID(*centre) || !protocol.ValidID(*name) || *broker == "" {
		return cli.Usagef("--station, --centre, --name ([a-z0-9-]{1,64}) and --broker are required")
	}
	if _, err := os.Stat(filepath.Join(*dir, tabletKey)); err == nil {
		return cli.WithHint(fmt.Errorf("%s already holds a paired tablet", *dir), "use another --profile, or remove it after capturactl unpair")
	}
	key, err := protocol.GenerateSigningKey(protocol.KindTablet)
	if err != nil {
		return err
	}
	p := &profile{Name: *name, Centre: *centre, Station: *station, Broker: *broker, CAFile: *tf.ca, CertFile: *tf.cert, KeyFile: *tf.key, dir: *dir}
	ctx, cancel := context.WithTimeout(env.Ctx, *timeout)
	defer cancel()
	mq, err := mqttc.New(p.mqttOptions())
	if err != nil {
		return err
	}
	if err := mq.Connect(ctx); err != nil {
		return err
	}
	defer mq.Close()
	reqEnv, req, err := protocol.NewPairRequest(key, sec, *centre, *station, *name, time.Now().UnixMilli())
	if err != nil {
		return err
	}
	answer := make(chan []byte, 1)
	respTopic := protocol.StationTopic(*centre, *station, protocol.TopicPair, req.ID.String(), "resp")
	if err := mq.Subscribe(ctx, respTopic, 1, func(m *mqttc.Message) {
		select {
		case answer <- m.Payload:
		default:
		}
	}); err != nil {
		return err
	}
	if err := mq.Publish(ctx, protocol.StationTopic(*centre, *station, protocol.TopicPair, req.ID.String(), "req"), 1, false, reqEnv); err != nil {
		return err
	}
	var respEnv []byte
	select {
	case respEnv = <-answer:
	case <-ctx.Done():
		return cli.WithHint(fmt.Errorf("no answer from station %s within %s", *station, *timeout), "is the station online? press its pairing button (or run captura-agent pairing-window) and try again")
	}
	resp, pinned, err := protocol.VerifyPairResponse(respEnv, reqEnv, sec, req)
	if err != nil {
		return err
	}
	if resp.Status != protocol.PairPaired {
		return fmt.Errorf("station %s refused: %s", *station, resp.Reason)
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	priv, _ := protocol.MarshalPrivateKeyPEM(key)
	spub, _ := protocol.MarshalPublicKeyPEM(pinned)
	if err := fsutil.CreateExclusive(filepath.Join(*dir, tabletKey), priv, 0o600); err != nil {
		return err
	}
	if err := fsutil.WriteFileAtomic(filepath.Join(*dir, stationPub), spub, 0o644); err != nil {
		return err
	}
	if err := p.save(); err != nil {
		return err
	}
	kid, _ := protocol.KeyIDOf(pinned)
	fmt.Fprintf(env.Stdout, "paired as %s with station %s/%s (station key %s); profile %s\n", *name, *centre, *station, kid, *dir)
	return nil
}

func runUnpair(env *cli.Env, fs *flag.FlagSet, args []string) error {
	dir := profileFlag(fs, env.Getenv)
	name := fs.String("tablet", "", "tablet to unpair (default: this one)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	c, mq, p, err := connectTablet(env.Ctx, *dir)
	if err != nil {
		return err
	}
	defer mq.Close()
	who := *name
	if who == "" {
		who = p.Name
	}
	ctx, cancel := context.WithTimeout(env.Ctx, 30*time.Second)
	defer cancel()
	if _, err := c.Send(ctx, protocol.CmdUnpair, func(cmd *protocol.Command) { cmd.Unpair = &protocol.UnpairArgs{Tablet: who} }, nil); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "tablet %s unpaired from %s/%s\n", who, p.Centre, p.Station)
	return nil
}

func simpleCommand(typ string) func(env *cli.Env, fs *flag.FlagSet, args []string) error {
	return func(env *cli.Env, fs *flag.FlagSet, args []string) error {
		dir := profileFlag(fs, env.Getenv)
		if err := cli.Parse(fs, args); err != nil {
			return err
		}
		c, mq, _, err := connectTablet(env.Ctx, *dir)
		if err != nil {
			return err
		}
		defer mq.Close()
		ctx, cancel := context.WithTimeout(env.Ctx, 30*time.Second)
		defer cancel()
		cs, err := c.Send(ctx, typ, nil, nil)
		if err != nil {
			return err
		}
		printResult(env.Stdout, cs)
		return nil
	}
}

func printResult(w io.Writer, cs *protocol.CommandState) {
	fmt.Fprintf(w, "%s: %s\n", cs.Type, cs.State)
	keys := make([]string, 0, len(cs.Result))
	for k := range cs.Result {
		keys = append(keys, k)
	}
	sortStrings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  %-16s %s\n", k, cs.Result[k])
	}
}

// parseItem reads "1".."10" (a finger position), a finger name ("left-index") or "face".
func parseItem(s string) (protocol.ItemArgs, error) {
	if s == "face" {
		return protocol.ItemArgs{Mod: protocol.ModFace}, nil
	}
	if n, err := strconv.Atoi(s); err == nil && protocol.FingerPos(n).Valid() {
		return protocol.ItemArgs{Mod: protocol.ModFinger, Pos: protocol.FingerPos(n)}, nil
	}
	for p := protocol.FingerPos(1); p <= 10; p++ {
		if strings.ReplaceAll(p.String(), " ", "-") == strings.ToLower(s) {
			return protocol.ItemArgs{Mod: protocol.ModFinger, Pos: p}, nil
		}
	}
	return protocol.ItemArgs{}, fmt.Errorf("%q is not an item: want 1-10, a finger name like right-index, or face", s)
}

func itemCommand(typ string) func(env *cli.Env, fs *flag.FlagSet, args []string) error {
	return func(env *cli.Env, fs *flag.FlagSet, args []string) error {
		dir := profileFlag(fs, env.Getenv)
		if err := cli.Parse(fs, args); err != nil {
			return err
		}
		want := 2 // ITEM REASON..., the reason in as many words as typed
		if typ == protocol.CmdCaptureRetry {
			want = 1
			if fs.NArg() != 1 {
				return cli.Usagef("got %d arguments, want one ITEM", fs.NArg())
			}
		} else if fs.NArg() < 2 {
			return cli.Usagef("got %d arguments, want ITEM REASON", fs.NArg())
		}
		it, err := parseItem(fs.Arg(0))
		if err != nil {
			return cli.Usagef("%v", err)
		}
		if want == 2 {
			it.Reason = strings.Join(fs.Args()[1:], " ")
		}
		c, mq, _, err := connectTablet(env.Ctx, *dir)
		if err != nil {
			return err
		}
		defer mq.Close()
		ctx, cancel := context.WithTimeout(env.Ctx, 30*time.Second)
		defer cancel()
		cs, err := c.Send(ctx, typ, func(cmd *protocol.Command) { cmd.Item = &it }, nil)
		if err != nil {
			return err
		}
		printResult(env.Stdout, cs)
		return nil
	}
}

func runCapture(env *cli.Env, fs *flag.FlagSet, args []string) error {
	dir := profileFlag(fs, env.Getenv)
	txn := fs.String("txn", "", "the applicant's transaction reference (4-50 characters of A-Z a-z 0-9 -)")
	fingers := fs.String("fingers", "", "finger positions to capture, e.g. 1,2,6,7 (default: all ten)")
	face := fs.Bool("face", false, "capture the face after the fingers")
	missing := fs.String("missing", "", "fingers known to be missing, e.g. 10:amputated,4:bandaged")
	timeout := fs.Duration("timeout", 20*time.Minute, "give up waiting for the session after this long")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if err := protocol.CheckTransaction("txn", *txn); err != nil {
		return cli.Usagef("--txn: %v", err)
	}
	var pos []protocol.FingerPos
	if *fingers != "" {
		for _, f := range strings.Split(*fingers, ",") {
			it, err := parseItem(strings.TrimSpace(f))
			if err != nil || it.Mod != protocol.ModFinger {
				return cli.Usagef("--fingers: %q is not a finger position", f)
			}
			pos = append(pos, it.Pos)
		}
	}
	var marks []protocol.ItemArgs
	if *missing != "" {
		for _, m := range strings.Split(*missing, ",") {
			f, reason, ok := strings.Cut(m, ":")
			it, err := parseItem(f)
			if !ok || err != nil || !protocol.ValidMissingReason(reason) {
				return cli.Usagef("--missing: %q: want FINGER:REASON with REASON amputated, bandaged, damaged or unable", m)
			}
			it.Reason = reason
			marks = append(marks, it)
		}
	}
	c, mq, p, err := connectTablet(env.Ctx, *dir)
	if err != nil {
		return err
	}
	defer mq.Close()
	ctx, cancel := context.WithTimeout(env.Ctx, *timeout)
	defer cancel()
	pr := &progressPrinter{w: env.Stdout}
	stop, err := c.Follow(ctx, pr.event)
	if err != nil {
		return err
	}
	defer stop()
	started := make(chan struct{})
	var once bool
	go func() {
		// Marks for missing fingers go once the session runs.
		<-started
		for _, m := range marks {
			m := m
			if _, err := c.Send(ctx, protocol.CmdCaptureMissing, func(cmd *protocol.Command) { cmd.Item = &m }, nil); err != nil {
				fmt.Fprintf(env.Stderr, "%s: missing %s: %v\n", Program.Name, m.Pos, err)
			}
		}
	}()
	cs, err := c.Send(ctx, protocol.CmdCaptureStart, func(cmd *protocol.Command) {
		cmd.Start = &protocol.StartArgs{Txn: *txn, Fingers: pos, Face: *face}
	}, func(cs *protocol.CommandState) {
		if cs.State == protocol.CmdExecuting && !once {
			once = true
			fmt.Fprintf(env.Stdout, "session %s started on %s/%s for %s\n", cs.Record, p.Centre, p.Station, *txn)
			close(started)
		}
	})
	if err != nil {
		if errors.Is(err, tablet.ErrFailed) {
			return err
		}
		return cli.WithHint(err, "the session may still be running at the station: capturactl status")
	}
	fmt.Fprintf(env.Stdout, "record %s\n", cs.Record)
	return nil
}

func runWatch(env *cli.Env, fs *flag.FlagSet, args []string) error {
	dir := profileFlag(fs, env.Getenv)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	c, mq, p, err := connectTablet(env.Ctx, *dir)
	if err != nil {
		return err
	}
	defer mq.Close()
	fmt.Fprintf(env.Stdout, "watching %s/%s (Ctrl-C to stop)\n", p.Centre, p.Station)
	pr := &progressPrinter{w: env.Stdout}
	stop, err := c.Follow(env.Ctx, pr.event)
	if err != nil {
		return err
	}
	defer stop()
	<-env.Ctx.Done()
	return nil
}
