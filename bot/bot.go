// Package bot is hookbot's XMPP client: it logs in, stays connected
// (keepalive pings, reconnection with backoff), answers disco, caps and
// ping, handles presence subscriptions per SPEC §3 and routes the stanzas
// that other packages care about (PubSub events, ad-hoc command IQs, chat
// messages) to their handlers without blocking mellium's Serve loop.
//
// Typical use:
//
//	b := bot.New(bot.Config{JID: j, Password: pw, Server: "example.org:5222", Role: access.Role})
//	b.AddFeatures(commands.NS)
//	b.HandleIQ(stanza.SetIQ, xml.Name{Space: commands.NS, Local: "command"}, execute)
//	b.HandleChat(chat)
//	b.HandleEvents(events)
//	b.OnConnect(resubscribe)
//	err := b.Run(ctx) // until ctx is canceled; ErrAuth when the password is refused
package bot

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"mellium.im/xmpp"
	"mellium.im/xmpp/disco/info"
	"mellium.im/xmpp/disco/items"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/mux"
	"mellium.im/xmpp/stanza"

	"hookbot/commands"
)

// ErrAuth is returned by Run when the server refuses the credentials.
// Retrying cannot help, so Run does not.
var ErrAuth = errors.New("authentication failed")

// ErrOffline is returned by Session when the bot is not connected.
var ErrOffline = errors.New("bot is not connected")

// Config configures a Bot. JID and Password are required.
type Config struct {
	JID                jid.JID // bare JID of the account
	Password           string
	Server             string // host:port; "" for SRV lookup, then domain:5222
	Resource           string // resource to bind; default "hookbot"
	TLS                string // "starttls" (default), "direct" or "none"
	CAFile             string // extra PEM roots; "" for the system roots
	InsecureSkipVerify bool   // tests only; logs a warning

	// Role tells who may subscribe to the bot's presence. Nil treats
	// everyone as a stranger.
	Role func(bare string) commands.Role

	Logger *slog.Logger // default slog.Default()

	PingInterval time.Duration // keepalive period; default 30 s
	PingTimeout  time.Duration // keepalive ping timeout; default 10 s
	MinBackoff   time.Duration // first reconnection delay; default 1 s
	MaxBackoff   time.Duration // longest reconnection delay; default 60 s
}

// IQHandler answers an IQ off the Serve loop. payload reads the IQ's
// child element (its start token first). It returns the whole reply
// stanza, which the bot sends; nil makes the bot answer
// service-unavailable. ctx is canceled when the session ends.
type IQHandler func(ctx context.Context, iq stanza.IQ, payload xml.TokenReader) xml.TokenReader

// ChatHandler handles a chat or normal message with a non-empty body off
// the Serve loop. Reply through the session given (or Bot.Session).
type ChatHandler func(ctx context.Context, s *xmpp.Session, msg stanza.Message, body string)

// DiscoNodes answers disco#info and disco#items on nodes other than the
// root (for example the ad-hoc commands node). ok false means the
// provider does not know the node.
type DiscoNodes interface {
	Info(from jid.JID, node string) (ids []info.Identity, features []info.Feature, ok bool)
	Items(from jid.JID, node string) (list []items.Item, ok bool)
}

// Bot is an XMPP client session that reconnects. Register handlers
// before calling Run.
type Bot struct {
	cfg Config
	log *slog.Logger

	onConnect []func(ctx context.Context, s *xmpp.Session)
	events    mux.MessageHandler
	iqs       []iqRoute
	chat      ChatHandler
	// muxEvents routes notifications through the mux like other
	// messages, without msgRouter's fast path (benchmarks, tests).
	muxEvents bool

	mu       sync.Mutex
	sess     *xmpp.Session // nil while disconnected
	features []string      // extra disco features
	items    []items.Item  // extra root disco items
	nodes    []DiscoNodes
}

type iqRoute struct {
	typ     stanza.IQType
	payload xml.Name
	h       IQHandler
}

// New returns a Bot for cfg with the defaults filled in.
func New(cfg Config) *Bot {
	if cfg.Resource == "" {
		cfg.Resource = "hookbot"
	}
	if cfg.TLS == "" {
		cfg.TLS = "starttls"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Role == nil {
		cfg.Role = func(string) commands.Role { return commands.Stranger }
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.PingInterval, 30*time.Second)
	def(&cfg.PingTimeout, 10*time.Second)
	def(&cfg.MinBackoff, time.Second)
	def(&cfg.MaxBackoff, 60*time.Second)
	return &Bot{cfg: cfg, log: cfg.Logger}
}

// OnConnect adds f to the work done after every (re)connection, once the
// session is bound and the initial presence sent: resubscribing, catching
// up. f runs in its own goroutine; ctx is canceled when the session ends.
func (b *Bot) OnConnect(f func(ctx context.Context, s *xmpp.Session)) {
	b.onConnect = append(b.onConnect, f)
}

// HandleEvents sets the handler of PubSub notifications: headline and
// normal messages with a pubsub#event child. It runs on the Serve loop
// with the message to read from its start element on: parse, hand off to
// a queue and return at once; never return an error (it would end the
// session).
//
// Messages whose first child element is the event skip the mux. If h
// has a method HandleEvent(from jid.JID, r xml.TokenReader), as the
// handler of Services.EventHandler has, they are handed to it instead of
// HandleMessage, with from the zero JID when the message has no from.
func (b *Bot) HandleEvents(h mux.MessageHandler) { b.events = h }

// HandleIQ routes IQs of type typ whose child is payload to h, which runs
// in its own goroutine (for example ad-hoc commands: SetIQ,
// {http://jabber.org/protocol/commands, command}).
func (b *Bot) HandleIQ(typ stanza.IQType, payload xml.Name, h IQHandler) {
	b.iqs = append(b.iqs, iqRoute{typ, payload, h})
}

// HandleChat sets the handler of chat and normal messages with a body.
// Messages of type error and headline never reach it.
func (b *Bot) HandleChat(h ChatHandler) { b.chat = h }

// AddFeatures adds disco#info features of the bot and so changes its
// caps; while connected, the bot sends presence again with the new caps.
func (b *Bot) AddFeatures(ns ...string) {
	b.mu.Lock()
	b.features = append(b.features, ns...)
	s := b.sess
	b.mu.Unlock()
	if s != nil {
		go func() {
			if err := b.sendPresence(s, writeTimeout, ""); err != nil {
				b.log.Warn("presence with new caps", "err", err)
			}
		}()
	}
}

// AddItems adds root disco#items; an item with a zero JID stands for the
// bot's own full JID.
func (b *Bot) AddItems(list ...items.Item) {
	b.mu.Lock()
	b.items = append(b.items, list...)
	b.mu.Unlock()
}

// AddDiscoNodes adds a provider of disco answers for non-root nodes.
func (b *Bot) AddDiscoNodes(p DiscoNodes) {
	b.mu.Lock()
	b.nodes = append(b.nodes, p)
	b.mu.Unlock()
}

// Session returns the current session, or ErrOffline. The session may
// end at any time: give every call a timeout and expect errors.
func (b *Bot) Session() (*xmpp.Session, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.sess == nil {
		return nil, ErrOffline
	}
	return b.sess, nil
}

// JID returns the bot's full JID while connected, else its configured
// address with the configured resource.
func (b *Bot) JID() jid.JID {
	if s, err := b.Session(); err == nil {
		return s.LocalAddr()
	}
	j, err := b.cfg.JID.WithResource(b.cfg.Resource)
	if err != nil {
		return b.cfg.JID
	}
	return j
}

// Run connects and serves until ctx is canceled, reconnecting with
// exponential backoff and jitter after any failure. It returns nil after
// a clean stop, or an error wrapping ErrAuth when the credentials are
// refused.
func (b *Bot) Run(ctx context.Context) error {
	backoff := b.cfg.MinBackoff
	for {
		start := time.Now()
		err := b.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, ErrAuth) {
			return err
		}
		if time.Since(start) > 2*b.cfg.MaxBackoff && !isConflict(err) {
			backoff = b.cfg.MinBackoff // it ran fine for a while
		}
		wait := jitter(backoff)
		if isConflict(err) {
			b.log.Warn("another session took our resource (conflict): backing off", "resource", b.cfg.Resource, "retry_in", wait)
		} else {
			b.log.Warn("disconnected", "err", err, "retry_in", wait)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		backoff = min(2*backoff, b.cfg.MaxBackoff)
	}
}

// jitter returns a duration in [d/2, d).
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2)
}

// session runs one connection from dial to end.
func (b *Bot) session(ctx context.Context) error {
	s, err := b.dial(ctx)
	if err != nil {
		return err
	}
	b.log.Info("connected", "jid", s.LocalAddr().String())
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()

	served := make(chan error, 1)
	go func() { served <- s.Serve(b.handler(sctx, s)) }()

	if err := b.sendPresence(s, writeTimeout, ""); err != nil {
		closeSession(s, served)
		return fmt.Errorf("initial presence: %w", err)
	}
	b.mu.Lock()
	b.sess = s
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		b.sess = nil
		b.mu.Unlock()
	}()
	for _, f := range b.onConnect {
		go f(sctx, s)
	}
	go b.keepalive(sctx, s)

	select {
	case err := <-served:
		s.Conn().Close()
		if err == nil {
			err = errors.New("server closed the stream")
		}
		return err
	case <-ctx.Done():
		b.log.Info("stopping: sending unavailable presence")
		if err := b.sendPresence(s, 2*time.Second, stanza.UnavailablePresence); err != nil {
			b.log.Warn("unavailable presence", "err", err)
		}
		closeSession(s, served)
		return nil
	}
}

// closeSession closes the stream, waits briefly for the server to close
// its side, then closes the connection.
func closeSession(s *xmpp.Session, served <-chan error) {
	s.Close()
	select {
	case <-served:
	case <-time.After(2 * time.Second):
	}
	s.Conn().Close()
}

// keepalive pings the server every PingInterval and closes the connection
// when a ping fails, which ends Serve and so the session.
func (b *Bot) keepalive(ctx context.Context, s *xmpp.Session) {
	t := time.NewTicker(b.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, b.cfg.PingTimeout)
		err := pingServer(pctx, s)
		cancel()
		if err != nil && ctx.Err() == nil {
			b.log.Warn("keepalive ping failed: dropping the connection", "err", err)
			s.Conn().Close()
			return
		}
	}
}
