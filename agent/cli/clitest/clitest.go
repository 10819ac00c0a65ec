// Package clitest runs the end-to-end CLI scripts (testscript .txtar files) of capturactl
// and captura-fw: both programs are available in every script, $SHARED points at the
// evaluation data beside the repository ([shared] holds when it exists), and $SAMPLE at
// protocol/testdata/sample.
package clitest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/captura-claim/captura/agent/cli"
	"github.com/captura-claim/captura/agent/ctl"
	"github.com/captura-claim/captura/firmware-tools/fw"
)

// Main is the TestMain of a package with scripts.
func Main(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"capturactl": func() { os.Exit(ctl.Program.Main(cli.OSEnv(context.Background()), os.Args[1:])) },
		"captura-fw": func() { os.Exit(fw.Program.Main(cli.OSEnv(context.Background()), os.Args[1:])) },
	})
}

// Run runs the scripts in dir; root is the repository root relative to the package.
func Run(t *testing.T, dir, root string) {
	shared, _ := filepath.Abs(filepath.Join(root, "..", "shared"))
	sample, err := filepath.Abs(filepath.Join(root, "protocol", "testdata", "sample"))
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 dir,
		RequireExplicitExec: true,
		Setup: func(e *testscript.Env) error {
			e.Setenv("SHARED", shared)
			e.Setenv("SAMPLE", sample)
			return nil
		},
		Condition: func(cond string) (bool, error) {
			if cond == "shared" {
				_, err := os.Stat(shared)
				return err == nil, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
	})
}
