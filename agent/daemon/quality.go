package daemon

import (
	"github.com/captura-claim/captura/agent/biometric/fingerq"
	"github.com/captura-claim/captura/agent/session"
)

// defaultQuality is NFIQ 2 with the minutiae extractor.
func defaultQuality() (session.FingerQuality, error) { return fingerq.New() }
