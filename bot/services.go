package bot

import (
	"context"
	"fmt"
	"sync"
	"time"

	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/mux"
	"mellium.im/xmpp/stanza"

	"hookbot/bot/pubsub"
	"hookbot/hooks"
	"hookbot/hooks/hookbot"
)

// Services is the bot as package hooks sees it: its PubSub client
// (hooks.PubSub) and what hook code may do through it (hooks.Host). Every
// call uses the session of the moment and fails while the bot is
// offline.
type Services struct {
	b *Bot
	// Timeout bounds the calls of hook code (Send, Publish), which take
	// no context.
	Timeout time.Duration
}

// Services returns the bot's Services.
func (b *Bot) Services() *Services {
	return &Services{b: b, Timeout: 10 * time.Second}
}

var (
	_ hooks.PubSub = (*Services)(nil)
	_ hooks.Host   = (*Services)(nil)
)

func parseService(service string) (jid.JID, error) {
	if service == "" {
		return jid.JID{}, nil
	}
	j, err := jid.Parse(service)
	if err != nil {
		return jid.JID{}, fmt.Errorf("service %q is not a valid JID: %w", service, err)
	}
	return j, nil
}

// target returns the current session and the JID of service ("" for
// the bot's own PEP).
func (s *Services) target(service string) (*xmpp.Session, jid.JID, error) {
	sess, err := s.b.Session()
	if err != nil {
		return nil, jid.JID{}, err
	}
	svc, err := parseService(service)
	return sess, svc, err
}

// Subscribe subscribes the bot's bare JID to node on service.
func (s *Services) Subscribe(ctx context.Context, service, node string) (string, error) {
	sess, svc, err := s.target(service)
	if err != nil {
		return "", err
	}
	state, err := pubsub.Subscribe(ctx, sess, svc, node, jid.JID{})
	if err != nil {
		return "", err
	}
	switch state {
	case pubsub.StateSubscribed:
		return hooks.StateSubscribed, nil
	case pubsub.StatePending:
		return hooks.StatePending, nil
	}
	return "", fmt.Errorf("the service wants the subscription to %s configured first (%s), which hookbot does not do", node, state)
}

// Unsubscribe ends the bot's subscription to node on service.
func (s *Services) Unsubscribe(ctx context.Context, service, node string) error {
	sess, svc, err := s.target(service)
	if err != nil {
		return err
	}
	return pubsub.Unsubscribe(ctx, sess, svc, node, jid.JID{})
}

// Items returns the newest max items of node on service.
func (s *Services) Items(ctx context.Context, service, node string, max int) ([]hookbot.Item, error) {
	sess, svc, err := s.target(service)
	if err != nil {
		return nil, err
	}
	return pubsub.Items(ctx, sess, svc, node, max)
}

// JID returns the bot's full JID.
func (s *Services) JID() string { return s.b.JID().String() }

// Send sends a chat message with body to the JID to.
func (s *Services) Send(to, body string) error {
	j, err := jid.Parse(to)
	if err != nil {
		return fmt.Errorf("send to %q: %w", to, err)
	}
	return s.b.SendMessage(j, stanza.ChatMessage, body)
}

// Publish publishes payload as item id on node of service.
func (s *Services) Publish(service, node, id, payload string) (string, error) {
	sess, svc, err := s.target(service)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.Timeout)
	defer cancel()
	return pubsub.Publish(ctx, sess, svc, node, id, payload)
}

// EventHandler returns the handler of PubSub notifications for
// Bot.HandleEvents: it parses them on the Serve loop and hands them to
// receive, which must not block. Items sent without their payload are
// fetched first, off the Serve loop; the notifications of their node that
// arrive meanwhile wait behind them, so that receive sees each node's
// notifications in the order they arrived.
func (s *Services) EventHandler(receive func(hooks.Notification)) mux.MessageHandler {
	o := &orderer{s: s, receive: receive, busy: make(map[nodeKey][]fillJob)}
	return pubsub.Handler(s.b.cfg.JID.Bare(), s.b.log, o.event)
}

// nodeKey names a node of a service.
type nodeKey struct{ service, node string }

// fillJob is a notification and the ids of its items to fetch.
type fillJob struct {
	n       hooks.Notification
	ev      pubsub.Event
	missing []string
}

// orderer passes notifications on in order per node, fetching the
// payloads of notification-only items on a goroutine per busy node.
type orderer struct {
	s       *Services
	receive func(hooks.Notification)

	mu sync.Mutex
	// busy holds, for each node whose fetch is under way, the jobs
	// waiting behind it (possibly none).
	busy map[nodeKey][]fillJob
}

// event is called on the Serve loop: it never blocks.
func (o *orderer) event(ev pubsub.Event) {
	j := fillJob{n: hooks.Notification{Delayed: ev.Delayed}, ev: ev}
	for _, it := range ev.Items {
		if it.NotifyOnly {
			j.missing = append(j.missing, it.ID)
		}
		j.n.Items = append(j.n.Items, it.Item)
	}
	key := nodeKey{ev.Service.String(), ev.Node}
	o.mu.Lock()
	if queue, ok := o.busy[key]; ok {
		o.busy[key] = append(queue, j)
		o.mu.Unlock()
		return
	}
	if len(j.missing) == 0 {
		o.mu.Unlock()
		o.receive(j.n)
		return
	}
	o.busy[key] = nil
	o.mu.Unlock()
	go o.drain(key, j)
}

// drain passes on j, then the jobs queued behind it for key, fetching
// what they miss, until none is left.
func (o *orderer) drain(key nodeKey, j fillJob) {
	for {
		if len(j.missing) > 0 {
			o.s.fill(j.n, j.ev, j.missing)
		}
		o.receive(j.n)
		o.mu.Lock()
		queue := o.busy[key]
		if len(queue) == 0 {
			delete(o.busy, key)
			o.mu.Unlock()
			return
		}
		j = queue[0]
		o.busy[key] = queue[1:]
		o.mu.Unlock()
	}
}

// fill fetches the payloads of notification-only items into n.Items.
func (s *Services) fill(n hooks.Notification, ev pubsub.Event, ids []string) {
	ctx, cancel := context.WithTimeout(context.Background(), s.Timeout)
	defer cancel()
	sess, err := s.b.Session()
	var fetched []hookbot.Item
	if err == nil {
		fetched, err = pubsub.ItemsByID(ctx, sess, ev.Service, ev.Node, ids...)
	}
	if err != nil {
		s.b.log.Warn("cannot fetch notified items; they run without payload", "service", ev.Service.String(),
			"node", ev.Node, "err", err)
	}
	byID := make(map[string]string, len(fetched))
	for _, f := range fetched {
		byID[f.ID] = f.Payload
	}
	for i := range n.Items {
		if p, ok := byID[n.Items[i].ID]; ok && n.Items[i].Payload == "" {
			n.Items[i].Payload = p
		}
	}
}
