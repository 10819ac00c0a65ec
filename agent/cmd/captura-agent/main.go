// Command captura-agent is the station daemon.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "captura-agent: the daemon is being built (see issue 4)")
	os.Exit(2)
}
