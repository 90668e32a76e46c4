# hookbot — see README.md.
GO      ?= go
BIN     ?= bin/hookbot
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo devel)

.PHONY: build test demo prosody clean

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/hookbot

# Installs Prosody (and slixmpp, used by interoperability tests) when
# missing; needs root for apt-get.
prosody:
	@if ! command -v prosody >/dev/null || ! /usr/bin/python3 -c 'import slixmpp' 2>/dev/null; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y prosody python3-slixmpp; \
	fi

test: prosody
	HOOKBOT_INTEGRATION=1 $(GO) test -race ./...

demo: prosody build
	$(GO) run ./internal/demo -hookbot $(BIN)

clean:
	rm -rf bin

# End-to-end delivery benchmark (BENCHMARKS.md); QUICK=1 for a smoke run.
.PHONY: bench
bench: prosody
	$(GO) run ./bench $(if $(QUICK),-quick)
