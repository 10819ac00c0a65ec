// Command captura-agent is the Captura capture station daemon.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/captura-claim/captura/agent/daemon"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := daemon.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
