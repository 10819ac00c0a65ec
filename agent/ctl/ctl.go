// Package ctl implements capturactl, the technician's and integrator's client: it verifies
// records, pairs tablets, runs captures, scores images and runs the reference gateway.
// Each subcommand lives in its own file and registers itself in Program.
package ctl

import "github.com/captura-claim/captura/agent/cli"

// Program is capturactl.
var Program = &cli.Program{Name: "capturactl", Summary: "technician and integrator client for Captura stations"}
