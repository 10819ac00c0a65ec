module github.com/captura-claim/captura

go 1.26.0
