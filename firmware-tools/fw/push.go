package fw

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/captura-claim/captura/agent/cli"
	"github.com/captura-claim/captura/agent/mqttc"
	"github.com/captura-claim/captura/agent/update/rollout"
	"github.com/captura-claim/captura/firmware-tools/bundle"
	"github.com/captura-claim/captura/protocol"
)

func init() {
	Program.Register(&cli.Command{
		Name:    "push",
		Args:    "",
		Summary: "roll an update bundle out to stations over MQTT, with progress and an abort rule",
		Run:     runPush,
	})
}

// brokerFlags are the MQTT connection flags of push and fleet.
type brokerFlags struct {
	url, clientID, username, passwordFile, ca, cert, key, serverName string
	timeout                                                          time.Duration
}

func (b *brokerFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&b.url, "broker", "", "broker URL: tcp://host:port or ssl://host:port (required)")
	fs.StringVar(&b.clientID, "client-id", "", "MQTT client id (default captura-fw-<random>)")
	fs.StringVar(&b.username, "username", "", "MQTT user name")
	fs.StringVar(&b.passwordFile, "password-file", "", "file whose first line is the MQTT password")
	fs.StringVar(&b.ca, "tls-ca", "", "CA certificate to pin (PEM)")
	fs.StringVar(&b.cert, "tls-cert", "", "client certificate (PEM)")
	fs.StringVar(&b.key, "tls-key", "", "client certificate key (PEM)")
	fs.StringVar(&b.serverName, "server-name", "", "TLS server name, when it differs from the broker host")
	fs.DurationVar(&b.timeout, "connect-timeout", 10*time.Second, "give up when the broker cannot be reached in this time")
}

// connect starts a connection that lives until ctx ends.
func (b *brokerFlags) connect(ctx context.Context) (*mqttc.Client, error) {
	if b.url == "" {
		return nil, cli.Usagef("--broker is required")
	}
	o := mqttc.Options{Brokers: []string{b.url}, ClientID: b.clientID, Username: b.username, CAFile: b.ca, CertFile: b.cert,
		KeyFile: b.key, ServerName: b.serverName, ConnectTimeout: b.timeout,
		Backoff: mqttc.Backoff{Min: 200 * time.Millisecond, Max: 5 * time.Second}}
	if o.ClientID == "" {
		o.ClientID = "captura-fw-" + protocol.NewID().String()[:12]
	}
	if b.passwordFile != "" {
		data, err := os.ReadFile(b.passwordFile)
		if err != nil {
			return nil, err
		}
		o.Password = strings.TrimSpace(strings.SplitN(string(data), "\n", 2)[0])
	}
	c, err := mqttc.New(o)
	if err != nil {
		return nil, err
	}
	go c.Run(ctx)
	wctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	if err := c.WaitConnected(wctx); err != nil {
		return nil, cli.WithHint(fmt.Errorf("cannot reach the broker %s within %s", b.url, b.timeout), "check --broker and the TLS and credential flags")
	}
	return c, nil
}

func runPush(env *cli.Env, fs *flag.FlagSet, args []string) error {
	var bf brokerFlags
	bf.register(fs)
	bundlePath := fs.String("bundle", "", "bundle file to roll out (required)")
	stations := fs.String("stations", "", "stations to update: id,id,... (with --centre) or centre/id,...")
	centre := fs.String("centre", "", "centre of the stations; alone, every station of the centre found in the retained status")
	percent := fs.Int("percent", 100, "update this percentage of the stations now (a stable choice: a later, larger percentage covers it)")
	abortAfter := fs.Int("abort-after", 1, "stop the rollout after this many failed stations (0: never)")
	parallel := fs.Int("parallel", 0, "stations updated at once (0: all selected)")
	stall := fs.Duration("stall", 10*time.Minute, "a station that says nothing for this long has failed")
	keysDir := fs.String("station-keys", "", "directory of station public keys: verify the stations' signed states")
	discover := fs.Duration("discover", 5*time.Second, "with --centre alone: the longest wait for the retained status of its stations")
	progress := fs.String("progress", "auto", "auto (redraw on a terminal, else plain), plain (a line per change) or none")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 || *bundlePath == "" || (*stations == "" && *centre == "") {
		return cli.Usagef("--bundle and --stations or --centre are required")
	}
	switch *progress {
	case "auto", "plain", "none":
	default:
		return cli.Usagef("--progress %q: want auto, plain or none", *progress)
	}
	c, names, err := parseStations(*stations, *centre)
	if err != nil {
		return err
	}
	if bf.url == "" {
		return cli.Usagef("--broker is required")
	}
	if err := checkBundle(*bundlePath); err != nil {
		return err
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
	if len(names) == 0 {
		entries, err := rollout.Collect(ctx, mq, c, kd, 700*time.Millisecond, *discover)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if e.Status != nil {
				names = append(names, e.Station)
			}
		}
		if len(names) == 0 {
			return cli.WithHint(fmt.Errorf("no station of centre %s has a retained status on %s", c, bf.url), "name them with --stations")
		}
	}
	changed := make(chan struct{}, 1)
	r, err := rollout.New(mq, *bundlePath, rollout.Options{Centre: c, Stations: names, Percent: *percent, AbortAfter: *abortAfter,
		Parallel: *parallel, Stall: *stall, StationKeys: kd, OnChange: func() {
			select {
			case changed <- struct{}{}:
			default:
			}
		}})
	if err != nil {
		return err
	}
	defer r.Close()
	m := r.Header().Manifest
	snap := r.Snapshot()
	fmt.Fprintf(env.Stdout, "rollout %s: %s %s to %d of %d station(s) of %s (abort after %d failure(s))\n", r.Job().ID, m.Product, m.Version,
		len(snap.Stations), len(names), c, *abortAfter)
	redraw := *progress == "auto" && isTerminal(env.Stdout)
	if *progress == "auto" && !redraw {
		*progress = "plain"
	}
	pr := &progressPrinter{w: env.Stdout, redraw: redraw, quiet: *progress == "none"}
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-changed:
				if !redraw {
					pr.show(r.Snapshot())
				}
			case <-tick.C:
				if redraw {
					pr.show(r.Snapshot())
				}
			}
		}
	}()
	final, runErr := r.Run(ctx)
	close(done)
	wg.Wait()
	pr.final(final)
	if runErr != nil {
		if errors.Is(runErr, context.Canceled) {
			return fmt.Errorf("rollout interrupted; announcements withdrawn")
		}
		return cli.WithHint(runErr, "captura-fw fleet shows each station's state and reason")
	}
	fmt.Fprintf(env.Stdout, "rollout complete: %d station(s) run %s\n", len(final.Stations), m.Version)
	return nil
}

// checkBundle fails early on a bundle that cannot be pushed (rollout.New checks it
// fully once the stations are known).
func checkBundle(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = bundle.ReadHeader(f)
	return err
}

// parseStations reads --stations and --centre into one centre and station ids.
func parseStations(list, centre string) (string, []string, error) {
	var names []string
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if c, st, ok := strings.Cut(s, "/"); ok {
			if centre != "" && c != centre {
				return "", nil, cli.Usagef("station %s is not in centre %s (a rollout covers one centre)", s, centre)
			}
			centre, s = c, st
		}
		if !protocol.ValidID(s) {
			return "", nil, cli.Usagef("station %q is not 1-64 characters of [a-z0-9-]", s)
		}
		names = append(names, s)
	}
	if !protocol.ValidID(centre) {
		return "", nil, cli.Usagef("centre %q: give --centre or centre/station ids", centre)
	}
	sort.Strings(names)
	return centre, names, nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0 && os.Getenv("TERM") != "dumb"
}

// progressPrinter shows the rollout: redrawn in place on a terminal, or as a line per
// change of a station's state (and per 10% of its download) otherwise.
type progressPrinter struct {
	w      io.Writer
	redraw bool
	quiet  bool
	lines  int
	last   map[string]string
}

func (p *progressPrinter) show(s rollout.Snapshot) {
	if p.quiet {
		return
	}
	lines := rollout.Render(s, 30)
	if p.redraw {
		if p.lines > 0 {
			fmt.Fprintf(p.w, "\x1b[%dA", p.lines)
		}
		for _, l := range lines {
			fmt.Fprintf(p.w, "\x1b[2K%s\n", l)
		}
		p.lines = len(lines)
		return
	}
	if p.last == nil {
		p.last = map[string]string{}
	}
	for i, st := range s.Stations {
		key := fmt.Sprintf("%s|%s|%d", st.State, st.Reason, int(st.Progress()*10))
		if st.State == "" || p.last[st.Name] == key {
			continue
		}
		p.last[st.Name] = key
		fmt.Fprintln(p.w, lines[i])
	}
}

func (p *progressPrinter) final(s rollout.Snapshot) {
	if p.quiet {
		return
	}
	if p.redraw {
		p.show(s)
		return
	}
	fmt.Fprintln(p.w, "--")
	for _, l := range rollout.Render(s, 30) {
		fmt.Fprintln(p.w, l)
	}
}
