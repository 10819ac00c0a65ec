// Command captura-fw is the maintainer's tool for Captura stations.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/captura-claim/captura/agent/cli"
	"github.com/captura-claim/captura/firmware-tools/fw"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := fw.Program.Main(cli.OSEnv(ctx), os.Args[1:])
	stop()
	os.Exit(code)
}
