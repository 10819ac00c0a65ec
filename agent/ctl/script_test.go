package ctl_test

import (
	"testing"

	"github.com/captura-claim/captura/agent/cli/clitest"
)

func TestMain(m *testing.M) { clitest.Main(m) }

// TestScripts runs the end-to-end CLI scripts in testdata/script.
func TestScripts(t *testing.T) { clitest.Run(t, "testdata/script", "../..") }
