package main

import (
	"context"
	"encoding/xml"
	"fmt"
	"log/slog"

	"mellium.im/xmpp"
	"mellium.im/xmpp/disco/info"
	"mellium.im/xmpp/disco/items"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"hookbot/bot"
	"hookbot/commands"
	"hookbot/hooks"
	"hookbot/storage"
)

// wire builds the hooks engine and the commands over db and connects them
// to the bot before it runs: PubSub events go to the hooks, command IQs
// and chat messages to the commands, and every (re)connection resumes
// the subscriptions. It returns what stops the engine.
func wire(ctx context.Context, cfg Config, log *slog.Logger, b *bot.Bot, db *storage.DB, access commands.Access) (closeFn func(), err error) {
	services := b.Services()
	mgr, err := hooks.New(ctx, hooks.Options{
		DB:           db,
		PubSub:       services,
		Host:         services,
		HooksPath:    cfg.HooksPath,
		Timeout:      cfg.HookTimeout,
		Workers:      cfg.Workers,
		CatchupItems: cfg.CatchupItems,
		Logger:       log,
	})
	if err != nil {
		return nil, err
	}
	srv := commands.NewServer(mgr, access, append([]commands.Option{commands.WithLogger(log)}, cfg.commandOptions...)...)

	b.HandleEvents(services.EventHandler(mgr.Receive))
	b.OnConnect(func(ctx context.Context, _ *xmpp.Session) { mgr.Resume(ctx) })

	b.AddFeatures(commands.NS)
	b.AddItems(items.Item{Node: commands.NS, Name: "Commands"})
	b.AddDiscoNodes(commandNodes{srv: srv, bot: b})
	b.HandleIQ(stanza.SetIQ, xml.Name{Space: commands.NS, Local: "command"},
		func(ctx context.Context, iq stanza.IQ, payload xml.TokenReader) xml.TokenReader {
			return srv.HandleIQ(ctx, iq, payload)
		})
	b.HandleChat(func(ctx context.Context, s *xmpp.Session, msg stanza.Message, body string) {
		reply, ok := srv.HandleChat(ctx, msg.From, body)
		if !ok {
			return
		}
		if err := b.SendMessage(msg.From, msg.Type, reply); err != nil {
			log.Warn("send chat reply", "to", msg.From.String(), "err", err)
		}
	})
	return func() {
		if err := mgr.Close(); err != nil {
			log.Warn("stop hooks", "err", fmt.Errorf("close hooks: %w", err))
		}
	}, nil
}

// commandNodes answers disco on the ad-hoc commands node and the command
// nodes (bot.DiscoNodes over commands.Server).
type commandNodes struct {
	srv *commands.Server
	bot *bot.Bot
}

func (c commandNodes) Info(_ jid.JID, node string) ([]info.Identity, []info.Feature, bool) {
	return c.srv.Info(node)
}

func (c commandNodes) Items(from jid.JID, node string) ([]items.Item, bool) {
	if node != commands.NS {
		return nil, false
	}
	self := c.bot.JID()
	list := []items.Item{}
	for _, it := range c.srv.Items(from) {
		list = append(list, items.Item{JID: self, Node: it.Node, Name: it.Name})
	}
	return list, true
}
