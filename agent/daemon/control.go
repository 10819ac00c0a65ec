package daemon

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/captura-claim/captura/agent/config"
	"github.com/captura-claim/captura/agent/station"
)

// The control socket lets local maintainers act on the running agent: open the pairing
// window on a station without a button, list and unpair tablets. It is a Unix socket
// (mode 0660: the captura user and its group) speaking one line per request and answering
// "ok ..." or "error ...".

// controlPath is the socket: in systemd's RuntimeDirectory (/run/captura) when set, else
// in the state directory.
func controlPath(cfg *config.Config) string {
	dir := os.Getenv("RUNTIME_DIRECTORY")
	if dir == "" {
		dir = cfg.Path(cfg.Station.StateDir)
	}
	return filepath.Join(strings.SplitN(dir, ":", 2)[0], "control.sock")
}

func serveControl(ctx context.Context, path string, st *station.Station, log *slog.Logger) error {
	os.Remove(path) // a socket left by a crash
	l, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	os.Chmod(path, 0o660)
	go func() { <-ctx.Done(); l.Close() }()
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				os.Remove(path)
				return nil
			}
			return fmt.Errorf("control socket: %w", err)
		}
		go func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			line, err := bufio.NewReader(io.LimitReader(c, 1024)).ReadString('\n')
			if err != nil {
				return
			}
			fmt.Fprintln(c, control(ctx, st, strings.Fields(line), log))
		}()
	}
}

func control(ctx context.Context, st *station.Station, args []string, log *slog.Logger) string {
	if len(args) == 0 {
		return "error empty request"
	}
	switch args[0] {
	case "pairing-window":
		until, err := st.OpenPairing(ctx, "maintainer:local")
		if err != nil {
			return "error " + err.Error()
		}
		return "ok pairing window open until " + until.Format(time.RFC3339)
	case "tablets":
		var names []string
		for n, k := range st.Tablets().Names() {
			names = append(names, n+" "+k.String())
		}
		sort.Strings(names)
		return "ok " + fmt.Sprint(len(names)) + " paired" + prefixLines(names)
	case "unpair":
		if len(args) != 2 {
			return "error usage: unpair NAME"
		}
		if err := st.Unpair(ctx, args[1], "maintainer:local"); err != nil {
			return "error " + err.Error()
		}
		return "ok unpaired " + args[1]
	}
	log.Warn("unknown control request", "request", args[0])
	return "error unknown request " + args[0]
}

func prefixLines(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	return "\n" + strings.Join(lines, "\n")
}

// ControlRequest sends one request to a running agent and returns its answer.
func ControlRequest(cfg *config.Config, req string) (string, error) {
	path := controlPath(cfg)
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		return "", fmt.Errorf("cannot reach the running agent at %s: %w", path, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := fmt.Fprintln(c, req); err != nil {
		return "", err
	}
	b, err := io.ReadAll(c)
	if err != nil {
		return "", err
	}
	ans := strings.TrimSpace(string(b))
	if msg, ok := strings.CutPrefix(ans, "error "); ok {
		return "", errors.New(msg)
	}
	return strings.TrimPrefix(ans, "ok "), nil
}
