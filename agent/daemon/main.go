package daemon

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/captura-claim/captura/agent/config"
	"github.com/captura-claim/captura/agent/version"
)

// Exit statuses. ExitConfig is listed in the unit's RestartPreventExitStatus=.
const (
	ExitOK     = 0
	ExitFailed = 1
	ExitUsage  = 2
	ExitConfig = config.ExitConfig
)

const defaultConfig = "/etc/captura/agent.toml"

// Main is captura-agent's entry point; it returns the exit status.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("captura-agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", defaultConfig, "configuration file")
	check := fs.Bool("check-config", false, "check the configuration, print every problem, and exit (0 ok, 78 errors)")
	showVersion := fs.Bool("version", false, "print the version and exit")
	example := fs.Bool("example-config", false, "print the commented example configuration (every key and its default)")
	rollback := fs.Bool("update-rollback", false, "roll back an update on trial (run by captura-rollback.service when the agent unit fails)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: captura-agent [-config FILE] [-check-config] [-version] [-example-config]\n"+
			"       captura-agent [-config FILE] pairing-window | tablets | unpair NAME\n\n"+
			"captura-agent is the Captura capture station daemon. It runs under systemd\n"+
			"(captura-agent.service) with its configuration in %s.\n\n"+
			"The commands talk to the running agent through its control socket:\n"+
			"  pairing-window  open the pairing window (stations without a pairing button)\n"+
			"  tablets         list the paired tablets\n"+
			"  unpair NAME     unpair a tablet\n\nflags:\n", defaultConfig)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	var request string
	switch fs.Arg(0) {
	case "":
	case "pairing-window", "tablets":
		request = fs.Arg(0)
	case "unpair":
		if fs.NArg() != 2 {
			fmt.Fprintln(stderr, "captura-agent: usage: captura-agent [-config FILE] unpair NAME")
			return ExitUsage
		}
		request = "unpair " + fs.Arg(1)
	default:
		fmt.Fprintf(stderr, "captura-agent: unknown command %q\ncaptura-agent: hint: run \"captura-agent -h\"\n", fs.Arg(0))
		return ExitUsage
	}
	switch {
	case *showVersion:
		fmt.Fprintln(stdout, "captura-agent", version.String())
		return ExitOK
	case *example:
		io.WriteString(stdout, config.Example)
		return ExitOK
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		var errs config.Errors
		if errors.As(err, &errs) {
			for _, e := range errs {
				fmt.Fprintf(stderr, "captura-agent: %s: %s\n", *cfgPath, e)
			}
		} else {
			fmt.Fprintf(stderr, "captura-agent: %s\n", err)
		}
		return ExitConfig
	}
	if request != "" {
		ans, err := ControlRequest(cfg, request)
		if err != nil {
			fmt.Fprintf(stderr, "captura-agent: %s: %v\n", request, err)
			return ExitFailed
		}
		fmt.Fprintln(stdout, ans)
		return ExitOK
	}
	if *check {
		// The files the configuration names are part of it: "ok" means the agent can
		// start with them.
		if _, err := ReadKeyFiles(cfg); err != nil {
			var errs config.Errors
			errors.As(err, &errs)
			for _, e := range errs {
				fmt.Fprintf(stderr, "captura-agent: %s: %s\n", *cfgPath, e)
			}
			return ExitConfig
		}
		fmt.Fprintf(stdout, "%s: ok (station %s, centre %s)\n", *cfgPath, cfg.Station.ID, cfg.Station.Centre)
		return ExitOK
	}
	log := NewLogger(cfg.Log, stderr)
	if *rollback {
		return updateRollback(cfg, log, stderr)
	}
	// With updates enabled the packaged binary is a launcher: it may exec the current
	// slot's binary (not returning), or supervise a version on trial and return.
	l := updateLaunch(cfg, log, args)
	if l.Done {
		return l.Exit
	}
	log.Info("starting", "version", version.String(), "station", cfg.Station.ID, "centre", cfg.Station.Centre, "slot", l.Slot)
	if err := Run(ctx, cfg, log, Hooks{Launch: l}); err != nil {
		if code, ok := updateExit(err); ok {
			return code // 75: systemd starts the new version
		}
		log.Error("exiting", "err", err)
		if isConfigError(err) {
			return ExitConfig
		}
		return ExitFailed
	}
	log.Info("stopped")
	return ExitOK
}

// isConfigError tells configuration mistakes found while starting (unreadable key files)
// from run-time failures, so systemd does not restart a station that cannot work.
func isConfigError(err error) bool {
	msg := err.Error()
	for _, k := range []string{"aima.public_key:", "gateway.public_key:", "tablet[", "mqtt.password_file:", "station key ", "pairing.secret_file:", "update.maintainer_keys:", "update.threshold:"} {
		if strings.HasPrefix(msg, k) {
			return true
		}
	}
	return false
}

// NewLogger builds the daemon's structured logger. "journal" (and "auto" under
// systemd, where JOURNAL_STREAM is set) leaves out the time, which journald adds.
func NewLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	format := c.Format
	if format == "auto" {
		format = "text"
		if os.Getenv("JOURNAL_STREAM") != "" {
			format = "journal"
		}
	}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts))
	case "journal":
		opts.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
