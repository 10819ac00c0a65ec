package fw_test

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

// TestMain lets the scripts in testdata/script run capturactl and captura-fw as commands.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"capturactl": func() { os.Exit(ctl.Program.Main(cli.OSEnv(context.Background()), os.Args[1:])) },
		"captura-fw": func() { os.Exit(fw.Program.Main(cli.OSEnv(context.Background()), os.Args[1:])) },
	})
}

// TestScripts runs the end-to-end CLI scripts (testscript format, one .txtar per scenario).
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		// [shared] holds when ../shared (evaluation data beside the repository) exists.
		Condition: func(cond string) (bool, error) {
			if cond == "shared" {
				_, err := os.Stat(sharedDir())
				return err == nil, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Setup: func(e *testscript.Env) error {
			e.Setenv("SHARED", sharedDir())
			sample, err := filepath.Abs("../../protocol/testdata/sample")
			e.Setenv("SAMPLE", sample)
			return err
		},
	})
}

// sharedDir is ../shared beside the repository, where evaluation-only data lives.
func sharedDir() string {
	d, _ := filepath.Abs("../../../shared")
	return d
}
