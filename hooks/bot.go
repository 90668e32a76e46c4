package hooks

import (
	"errors"
	"fmt"
	"strings"
	"sync"
)

// errNoHost is returned to hook code when the Manager has no Host.
var errNoHost = errors.New("hookbot: no connection")

// runBot is the hookbot.Bot of one run: the Host plus a collector of the
// run's Log lines (at most MaxLogLines of MaxLogLineLen bytes).
type runBot struct {
	host Host

	mu      sync.Mutex
	log     []string
	dropped int
	closed  bool
}

func (b *runBot) JID() string {
	if b.host == nil {
		return ""
	}
	return b.host.JID()
}

func (b *runBot) Send(to, body string) error {
	if b.host == nil {
		return errNoHost
	}
	return b.host.Send(to, body)
}

func (b *runBot) Publish(service, node, id, payload string) (string, error) {
	if b.host == nil {
		return "", errNoHost
	}
	return b.host.Publish(service, node, id, payload)
}

func (b *runBot) Log(msg string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	if len(b.log) >= MaxLogLines {
		b.dropped++
		return
	}
	if len(msg) > MaxLogLineLen {
		msg = strings.ToValidUTF8(msg[:MaxLogLineLen], "") + "…"
	}
	b.log = append(b.log, msg)
}

// close ends the collection: later Log calls are ignored.
func (b *runBot) close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
}

// lines returns the collected lines, with a last line counting the
// dropped ones.
func (b *runBot) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	lines := b.log
	if b.dropped > 0 {
		lines = append(lines[:len(lines):len(lines)], fmt.Sprintf("(%d more lines dropped)", b.dropped))
	}
	return lines
}

// isPanic reports whether err is how runtime reports a panic of the hook.
// runtime has no error type for it; its messages start "hook panicked".
func isPanic(err error) bool {
	return strings.HasPrefix(err.Error(), "hook panicked")
}
