// Package fw implements captura-fw, the maintainer's tool: keys, provisioning, update
// bundles and rollouts, reader and panel maintenance. Each subcommand lives in its own
// file and registers itself in Program.
package fw

import "github.com/captura-claim/captura/agent/cli"

// Program is captura-fw.
var Program = &cli.Program{Name: "captura-fw", Summary: "maintainer tool for Captura stations"}
