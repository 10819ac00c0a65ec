module github.com/captura-claim/captura

go 1.26.0

require (
	github.com/blackjack/webcam v0.6.1
	github.com/jonboulle/clockwork v0.5.0
	github.com/rogpeppe/go-internal v1.16.0
	periph.io/x/conn/v3 v3.7.3
	periph.io/x/host/v3 v3.8.5
)

require (
	golang.org/x/sys v0.26.0 // indirect
	golang.org/x/tools v0.26.0 // indirect
)
