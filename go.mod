module github.com/captura-claim/captura

go 1.26.0

require (
	github.com/creack/pty v1.1.24
	github.com/rogpeppe/go-internal v1.16.0
	github.com/tarm/serial v0.0.0-20180830185346-98f6abe2eb07
	golang.org/x/image v0.48.0
	golang.org/x/sys v0.50.0
)

require golang.org/x/tools v0.26.0 // indirect
