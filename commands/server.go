package commands

import (
	"log/slog"
	"sync"
	"time"

	"mellium.im/xmpp/disco/info"
	"mellium.im/xmpp/jid"
)

// Defaults of a Server.
const (
	DefaultIdleTimeout     = 10 * time.Minute
	DefaultMaxSessions     = 8
	DefaultRefusalInterval = time.Hour
	// endedTTL is how long an ended session id is remembered, so that
	// reusing it is "session-expired" rather than "bad-sessionid".
	endedTTL = time.Hour
)

// Server serves the commands to requesters, over XEP-0050 ad-hoc
// commands (HandleIQ, Items, Info) and chat (HandleChat). It is safe for
// concurrent use.
//
// Wire it into the bot with hookbot/bot's HandleIQ, which reads the IQ
// payload on the Serve loop, runs the handler on its own goroutine and
// sends the reply it returns (cmd/hookbot/wire.go does this):
//
//	b.HandleIQ(stanza.SetIQ, xml.Name{Space: commands.NS, Local: "command"},
//		func(ctx context.Context, iq stanza.IQ, payload xml.TokenReader) xml.TokenReader {
//			return srv.HandleIQ(ctx, iq, payload)
//		})
//
// Do not register a plain mellium mux.IQFunc that answers later from a
// goroutine: mellium answers every IQ its handler did not reply to with
// service-unavailable as soon as the handler returns, so the requester
// would get that error before the real reply. bot.HandleIQ suppresses
// that automatic answer.
//
// disco#items on node NS answers srv.Items(iq.From) (each item with the
// bot's full JID); disco#info on node NS or a command node answers
// srv.Info(node), item-not-found when ok is false; the root disco#items
// lists the node NS. For chat, call srv.HandleChat from a goroutine for
// messages of type chat or normal with a non-empty body only (never error
// or headline), and send the reply, when ok, to the sender's full JID
// with the same type.
type Server struct {
	hooks       Hooks
	access      Access
	cmds        []*Command
	now         func() time.Time
	idle        time.Duration
	maxSessions int
	refusal     time.Duration
	log         *slog.Logger

	mu       sync.Mutex
	sessions map[string]*session  // open sessions by id
	ended    map[string]ended     // ended sessions by id
	refused  map[string]time.Time // last chat refusal by bare JID
}

// An Option configures a Server.
type Option func(*Server)

// WithClock sets the clock used for session expiry and rate limits.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithIdleTimeout sets how long an idle session lives (default 10 minutes).
func WithIdleTimeout(d time.Duration) Option { return func(s *Server) { s.idle = d } }

// WithMaxSessions sets how many sessions one requester (bare JID) may
// have open at once (default 8).
func WithMaxSessions(n int) Option { return func(s *Server) { s.maxSessions = n } }

// WithRefusalInterval sets how often a stranger is told it is refused
// in chat (default once an hour); other messages get no reply.
func WithRefusalInterval(d time.Duration) Option { return func(s *Server) { s.refusal = d } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.log = l } }

// NewServer returns a Server running commands against h for the
// requesters a allows.
func NewServer(h Hooks, a Access, opts ...Option) *Server {
	s := &Server{
		hooks:       h,
		access:      a,
		cmds:        definitions(),
		now:         time.Now,
		idle:        DefaultIdleTimeout,
		maxSessions: DefaultMaxSessions,
		refusal:     DefaultRefusalInterval,
		log:         slog.Default(),
		sessions:    make(map[string]*session),
		ended:       make(map[string]ended),
		refused:     make(map[string]time.Time),
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// requester returns who j is.
func (s *Server) requester(j jid.JID) Requester {
	bare := j.Bare().String()
	return Requester{JID: j, Bare: bare, Role: s.access.Role(bare)}
}

func (s *Server) env(j jid.JID) Env {
	return Env{Hooks: s.hooks, Access: s.access, Req: s.requester(j)}
}

// command returns the command served on node.
func (s *Server) command(node string) *Command {
	for _, c := range s.cmds {
		if c.Node == node {
			return c
		}
	}
	return nil
}

// Item is one command in the disco#items of the commands node. The bot
// adds its own full JID as the item's jid.
type Item struct {
	Node, Name string
}

// Items returns the commands requester may run, for disco#items on the
// node NS: none for strangers, and no create for users who may create
// no type.
func (s *Server) Items(requester jid.JID) []Item {
	e := s.env(requester)
	var items []Item
	for _, c := range s.cmds {
		if c.Allowed(e) {
			items = append(items, Item{Node: c.Node, Name: c.Name})
		}
	}
	return items
}

// Info returns the disco#info of node: the commands node NS itself
// (identity automation/command-list) or a command node (identity
// automation/command-node, features NS and jabber:x:data). ok is false
// for any other node; the bot answers item-not-found then.
func (s *Server) Info(node string) (identities []info.Identity, features []info.Feature, ok bool) {
	if node == NS {
		return []info.Identity{{Category: "automation", Type: "command-list", Name: "Commands"}},
			[]info.Feature{{Var: NS}}, true
	}
	c := s.command(node)
	if c == nil {
		return nil, nil, false
	}
	return []info.Identity{{Category: "automation", Type: "command-node", Name: c.Name}},
		[]info.Feature{{Var: NS}, {Var: NSData}}, true
}
