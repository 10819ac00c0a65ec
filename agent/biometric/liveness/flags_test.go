package liveness

import "flag"

var expFlag = flag.Bool("exp", false, "run experiments")
