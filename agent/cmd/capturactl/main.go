// Command capturactl is the technician's and integrator's client for Captura stations.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/captura-claim/captura/agent/cli"
	"github.com/captura-claim/captura/agent/ctl"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := ctl.Program.Main(cli.OSEnv(ctx), os.Args[1:])
	stop()
	os.Exit(code)
}
