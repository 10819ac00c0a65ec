package daemon

import (
	"errors"

	"github.com/captura-claim/captura/agent/session"
)

// defaultQuality is replaced by the NFIQ 2 adapter when it is merged.
func defaultQuality() (session.FingerQuality, error) {
	return nil, errors.New("no finger quality algorithm built in")
}
