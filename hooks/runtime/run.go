package runtime

import (
	"errors"
	"sync"

	"hookbot/hooks/hookbot"
)

// errRunOver is returned to hook code that calls the bot after its run
// was stopped.
var errRunOver = errors.New("hook run is over")

// runBot is the hookbot.Bot a hook sees during one run. Once the run is
// over (a native call that outlived a timeout), it refuses every call, so
// that a stopped hook cannot act or write into another run's record.
type runBot struct {
	mu   sync.Mutex
	bot  hookbot.Bot
	over bool
}

func (b *runBot) end() {
	b.mu.Lock()
	b.over = true
	b.mu.Unlock()
}

// current returns the bot, or nil once the run is over.
func (b *runBot) current() hookbot.Bot {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.over {
		return nil
	}
	return b.bot
}

func (b *runBot) JID() string {
	if bot := b.current(); bot != nil {
		return bot.JID()
	}
	return ""
}

func (b *runBot) Send(to, body string) error {
	if bot := b.current(); bot != nil {
		return bot.Send(to, body)
	}
	return errRunOver
}

func (b *runBot) Publish(service, node, id, payload string) (string, error) {
	if bot := b.current(); bot != nil {
		return bot.Publish(service, node, id, payload)
	}
	return "", errRunOver
}

func (b *runBot) Log(msg string) {
	if bot := b.current(); bot != nil {
		bot.Log(msg)
	}
}
