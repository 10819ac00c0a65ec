package ctl

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/captura-claim/captura/agent/broker"
	"github.com/captura-claim/captura/agent/cli"
	"github.com/captura-claim/captura/agent/gateway"
	"github.com/captura-claim/captura/agent/mqttc"
	"github.com/captura-claim/captura/protocol"
)

func init() {
	Program.Register(&cli.Command{
		Name:    "gateway",
		Args:    "",
		Summary: "run the reference centre gateway: verify records, store them, send signed receipts",
		Run:     runGateway,
	})
}

func runGateway(env *cli.Env, fs *flag.FlagSet, args []string) error {
	brokers := fs.String("broker", "", "broker URL(s), comma-separated: tcp://, mqtt://, ssl://, tls:// or mqtts://host:port")
	listen := fs.String("listen", "", "instead of --broker: run an embedded broker on this loopback address (e.g. 127.0.0.1:1883; port 0 picks one) for demos and tests")
	centre := fs.String("centre", "", "centre id whose stations are served, or + for all centres")
	keyDir := fs.String("station-keys", "", "directory of trusted station public keys, one <station>.pub per station")
	keyFile := fs.String("key", "", "gateway private key (PEM) that signs receipts")
	store := fs.String("store", "", "directory where verified envelopes and the indexes are kept")
	id := fs.String("id", "gateway", "gateway id written into receipts ([a-z0-9-])")
	clientID := fs.String("client-id", "", "MQTT client id of the persistent session (default captura-gateway-ID)")
	user := fs.String("username", "", "MQTT username")
	passEnv := fs.String("password-env", "", "name of the environment variable holding the MQTT password")
	tlsCA := fs.String("tls-ca", "", "CA certificate (PEM) to pin for the broker")
	tlsCert := fs.String("tls-cert", "", "client certificate (PEM)")
	tlsKey := fs.String("tls-key", "", "client certificate key (PEM)")
	tlsName := fs.String("tls-server-name", "", "name expected in the broker's certificate (default: the URL's host)")
	verbose := fs.Bool("v", false, "log every message and connection event to stderr (default: warnings only)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() != 0:
		return cli.Usagef("unexpected argument %q", fs.Arg(0))
	case (*brokers == "") == (*listen == ""):
		return cli.Usagef("give exactly one of --broker and --listen")
	case *centre == "" || *keyDir == "" || *keyFile == "" || *store == "":
		return cli.Usagef("--centre, --station-keys, --key and --store are required")
	}
	pem, err := os.ReadFile(*keyFile)
	if err != nil {
		return err
	}
	priv, err := protocol.ParsePrivateKeyPEM(pem)
	if err != nil {
		return fmt.Errorf("%s: %w", *keyFile, err)
	}
	signer, err := protocol.NewSigner(priv)
	if err != nil {
		return err
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: level}))

	ctx, stop := signal.NotifyContext(env.Ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	urls := splitList(*brokers)
	if *listen != "" {
		b, err := broker.Start(ctx, *listen, &broker.Opts{Logger: log.With("component", "broker")})
		if err != nil {
			return err
		}
		defer b.Close()
		urls = []string{b.URL()}
		fmt.Fprintf(env.Stdout, "broker %s (embedded, loopback only)\n", b.URL())
	}
	password := ""
	if *passEnv != "" {
		if password = env.Getenv(*passEnv); password == "" {
			return fmt.Errorf("environment variable %s is empty", *passEnv)
		}
	}
	out := &lineWriter{w: env.Stdout}
	g, err := gateway.New(gateway.Config{
		ID: *id, Centre: *centre, Signer: signer, StationKeyDir: *keyDir, StoreDir: *store, Logger: log,
		MQTT: mqttc.Options{
			Brokers: urls, ClientID: *clientID, Username: *user, Password: password,
			CAFile: *tlsCA, CertFile: *tlsCert, KeyFile: *tlsKey, ServerName: *tlsName,
		},
		OnEvent: func(ev gateway.Event) { out.line(eventLine(ev)) },
	})
	if err != nil {
		return err
	}
	go func() {
		select {
		case <-g.Ready():
			out.line(fmt.Sprintf("gateway %s ready: centre %s, key %s, store %s", *id, *centre, signer.KeyID(), *store))
		case <-ctx.Done():
		}
	}()
	if err := g.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	st := g.Stats()
	out.line(fmt.Sprintf("gateway stopped: %d stored, %d duplicates, %d rejected, %d failed (delivered again later)", st.Stored, st.Duplicates, st.Rejected, st.Failed))
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// lineWriter serialises lines from the gateway's station workers.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) line(s string) {
	if s == "" {
		return
	}
	l.mu.Lock()
	fmt.Fprintln(l.w, s)
	l.mu.Unlock()
}

// eventLine is one line per record or audit entry: identifiers, counts and verdicts,
// never biometric content.
func eventLine(ev gateway.Event) string {
	where := ev.Centre + "/" + ev.Station
	r := ev.Receipt
	switch {
	case ev.Kind == gateway.KindStatus:
		if ev.Status == nil {
			return ""
		}
		return fmt.Sprintf("status    %s %s birth %d", where, ev.Status.State, ev.Status.Birth)
	case ev.Kind == "":
		return ""
	case r == nil && ev.Err != nil && errors.Is(ev.Err, gateway.ErrRetry):
		return fmt.Sprintf("%-6s    %s not handled now, will be delivered again: %v", ev.Kind, where, ev.Err)
	case r == nil:
		return fmt.Sprintf("%-6s    %s rejected, no id readable: %v", ev.Kind, where, ev.Err)
	}
	s := fmt.Sprintf("%-6s %-9s %s seq %d id %s", ev.Kind, r.Status, where, r.Seq, r.ID)
	switch {
	case r.Status == protocol.ReceiptRejected:
		s += ": " + r.Reason
	case ev.Record != nil:
		s += fmt.Sprintf(" txn %s items %d missing %d chain %s", ev.Record.Txn, len(ev.Record.Items), len(ev.Record.Exceptions), r.Chain)
	case ev.Audit != nil:
		s += fmt.Sprintf(" action %s outcome %s chain %s", ev.Audit.Action, ev.Audit.Outcome, r.Chain)
	}
	if ev.Err != nil && errors.Is(ev.Err, gateway.ErrRetry) {
		s += " (receipt not sent: will be delivered again)"
	}
	return s
}
