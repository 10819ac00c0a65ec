package liveness

import "errors"

var errThreshold = errors.New("liveness: threshold must be in (0, 1]")
