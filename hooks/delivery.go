package hooks

import (
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"sync"
	"time"

	"hookbot/hooks/hookbot"
	"hookbot/storage"
)

// delivery turns notifications into hook runs (SPEC §4 "Delivery"):
//
//   - a notification for a node that has no hook is dropped;
//   - an item already handled with the same payload (a replay, a delayed
//     copy, a duplicate, catch-up overlap) runs nothing; the same id with
//     a new payload is a new publication;
//   - each accepted item runs, once, every hook on its node that asked
//     for its kind, in the order the items were received;
//   - while a node catches up after a (re)connect, its live notifications
//     wait until the fetched items are dispatched.
//
// Decisions are taken in memory, on one goroutine, and dispatched at
// once; they are written to the database in batches afterwards. Accepted
// items stay in the journal as pending until every hook has run them, so
// that a restart runs what a crash interrupted.
type delivery struct {
	m        *Manager
	db       *storage.DB
	log      *slog.Logger
	keep     int // handled items kept per node
	keepRuns int // run records kept per hook

	mu          sync.Mutex
	ops         []op
	acks        []int64
	runs        []storage.Run
	droppedRuns int
	closed      bool
	armed       bool // a write is due: acks and run records need not wake the loop
	wake        chan struct{}
	stopped     chan struct{}

	// Owned by the loop goroutine.
	handled map[Subscription]map[string][]byte
	added   map[Subscription]int // handled items added since the last trim
	held    map[Subscription][]hookbot.Item
	nextID  int64 // next pending id
}

// op is one request to the delivery loop. Exactly one of its parts is
// set.
type op struct {
	items   []hookbot.Item // live notifications
	delayed bool

	hold    []Subscription // start holding the live items of these nodes
	forget  *Subscription  // the node lost its last hook: forget its items
	release *Subscription  // catch-up of this node fetched: items, then held ones

	// seed: items were on the node before register adds a hook to it;
	// with unhold, the node's held live items (received since the
	// subscription) are decided then, for the new hook too.
	seed     *Subscription
	register func()
	unhold   bool       // the creation held the node: release it
	done     chan error // sent the outcome once written
}

func newDelivery(m *Manager, db *storage.DB, keep, keepRuns int) *delivery {
	return &delivery{
		m: m, db: db, log: m.log, keep: keep, keepRuns: keepRuns,
		wake:    make(chan struct{}, 1),
		stopped: make(chan struct{}),
		handled: make(map[Subscription]map[string][]byte),
		added:   make(map[Subscription]int),
		held:    make(map[Subscription][]hookbot.Item),
	}
}

// replay dispatches the journal's pending items again: a run that was
// not over when the bot stopped. It must run before any other dispatch.
func (d *delivery) replay(ctx context.Context) error {
	pending, err := d.db.Pending(ctx)
	if err != nil {
		return err
	}
	for _, p := range pending {
		item := hookbot.Item{
			Kind: p.Item.Kind, Service: p.Item.Service, Node: p.Item.Node, ID: p.Item.ID,
			Publisher: p.Item.Publisher, Payload: p.Item.Payload, Time: p.Item.Received,
		}
		d.m.DispatchTo(p.Hooks, item, d.acker(p.ID))
		d.nextID = max(d.nextID, p.ID)
	}
	if len(pending) > 0 {
		d.log.Info("replaying runs interrupted by the last stop", "items", len(pending))
	}
	return nil
}

// push queues o for the loop. It never blocks.
func (d *delivery) push(o op) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return false
	}
	d.ops = append(d.ops, o)
	d.signal()
	return true
}

// signal wakes the loop.
func (d *delivery) signal() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// nudge wakes the loop for acks and run records, unless a write is
// already due: they wait for it. The caller holds mu.
func (d *delivery) nudge() {
	if !d.armed {
		d.signal()
	}
}

// acker returns the done callback of pending entry id. Runs cut short
// by Close are not acknowledged: they run again after the restart.
func (d *delivery) acker(id int64) func() {
	if id == 0 {
		return nil
	}
	return func() {
		if d.m.ctx.Err() != nil {
			return
		}
		d.mu.Lock()
		d.acks = append(d.acks, id)
		d.nudge()
		d.mu.Unlock()
	}
}

// wait pushes o and waits until the loop has dispatched and written it.
// The loop answers every op it takes, so wait takes no context.
func (d *delivery) wait(o op) error {
	o.done = make(chan error, 1)
	if !d.push(o) {
		return errors.New("hooks: shutting down")
	}
	return <-o.done
}

// Journal writes are grouped: decided items wait up to flushDelay (or
// until flushItems are waiting) for one transaction together. Dispatch
// never waits for the write; a crash in between loses no item, since an
// item not yet recorded as handled is fetched and run again at catch-up
// (a run that was over may then run again: at most flushDelay's worth).
// A write costs about 0.3 ms of CPU plus 25 µs an item (BenchmarkWrite
// in storage): at 300 items/s, 50 ms makes it 44 µs an item, against
// 70 µs with 20 ms.
const (
	flushDelay = 50 * time.Millisecond
	flushItems = 512
)

// loop serves ops until close, and writes their outcome, the acks and the
// run records to the database: the one writer of the event path.
func (d *delivery) loop() {
	defer close(d.stopped)
	ctx := context.Background()
	var (
		b     storage.Batch
		waits []chan error
		since time.Time // when the oldest unwritten decision was taken
	)
	b.KeepRuns = d.keepRuns
	for range d.wake {
		d.mu.Lock()
		ops, acks, runs, dropped, closed := d.ops, d.acks, d.runs, d.droppedRuns, d.closed
		d.ops, d.acks, d.runs, d.droppedRuns = nil, nil, nil, 0
		d.mu.Unlock()
		if dropped > 0 {
			d.log.Warn("run records dropped: too many waiting", "count", dropped)
		}

		b.Records, waits = d.run(ctx, ops, b.Records, waits)
		b.Done = append(b.Done, acks...)
		b.Runs = append(b.Runs, runs...)
		n := len(b.Records) + len(b.Done) + len(b.Runs)
		switch {
		case n == 0 && len(waits) == 0:
		case closed || len(waits) > 0 || n >= flushItems ||
			(!since.IsZero() && time.Since(since) >= flushDelay):
			d.write(ctx, b, waits)
			b.Records, b.Done, b.Runs, waits, since = nil, nil, nil, nil, time.Time{}
			d.mu.Lock()
			d.armed = false
			if len(d.acks)+len(d.runs) > 0 {
				d.signal() // they came during the write and did not wake us
			}
			d.mu.Unlock()
		case since.IsZero():
			since = time.Now()
			d.mu.Lock()
			d.armed = true
			d.mu.Unlock()
			time.AfterFunc(flushDelay, d.signal)
		}
		if closed {
			return
		}
	}
}

// write stores b in one transaction and tells waits the outcome.
func (d *delivery) write(ctx context.Context, b storage.Batch, waits []chan error) {
	settle(&b)
	err := d.db.Write(ctx, b)
	if err != nil {
		d.log.Error("journal: cannot record delivered items and runs; a restart may run them again", "err", err)
	}
	for _, w := range waits {
		w <- err
	}
	for _, r := range b.Records {
		if r.Item.Kind == hookbot.KindItems {
			d.trim(ctx, Subscription{r.Item.Service, r.Item.Node})
		}
	}
}

// settle drops from b the pending entries that are already done: most
// runs are over before their item is written, and neither the entry nor
// its removal need reach the database.
func settle(b *storage.Batch) {
	if len(b.Done) == 0 {
		return
	}
	unwritten := make(map[int64]int)
	for i, r := range b.Records {
		if r.Pending != 0 {
			unwritten[r.Pending] = i
		}
	}
	done := b.Done[:0]
	for _, id := range b.Done {
		if i, ok := unwritten[id]; ok {
			b.Records[i].Pending, b.Records[i].Hooks = 0, nil
			continue
		}
		done = append(done, id)
	}
	b.Done = done
}

// run decides and dispatches ops, and returns recs and waits with their
// records and done channels added.
func (d *delivery) run(ctx context.Context, ops []op, recs []storage.Record, waits []chan error) ([]storage.Record, []chan error) {
	for _, o := range ops {
		switch {
		case o.hold != nil:
			for _, key := range o.hold {
				if _, ok := d.held[key]; !ok {
					d.held[key] = []hookbot.Item{}
				}
			}
		case o.forget != nil:
			// Stored as a purge, which forgets the node's handled items;
			// a new first hook records the node's items again.
			delete(d.handled, *o.forget)
			delete(d.added, *o.forget)
			recs = append(recs, storage.Record{Item: storage.Item{
				Kind: hookbot.KindPurge, Service: o.forget.Service, Node: o.forget.Node}})
		case o.release != nil:
			held := d.held[*o.release]
			delete(d.held, *o.release)
			recs = d.accept(ctx, recs, o.items, false, false)
			recs = d.accept(ctx, recs, held, false, false)
		case o.seed != nil:
			recs = d.accept(ctx, recs, o.items, false, true)
			o.register()
			if held, ok := d.held[*o.seed]; ok && o.unhold {
				delete(d.held, *o.seed)
				recs = d.accept(ctx, recs, held, false, false)
			}
		default:
			recs = d.accept(ctx, recs, o.items, o.delayed, false)
		}
		if o.done != nil {
			waits = append(waits, o.done)
		}
	}
	return recs, waits
}

// accept decides items in order, dispatches the accepted ones and
// returns recs with their records added.
func (d *delivery) accept(ctx context.Context, recs []storage.Record, items []hookbot.Item, delayed, seed bool) []storage.Record {
	for _, it := range items {
		if delayed && it.Kind != hookbot.KindItems {
			continue // a stored copy of a retract, purge or delete: old news
		}
		key := Subscription{it.Service, it.Node}
		if held, ok := d.held[key]; ok && !seed {
			d.held[key] = append(held, it)
			continue
		}
		if !seed && !d.m.hasNode(key) {
			continue // no hook here (any account can send us events)
		}
		handled := d.handledOf(ctx, key)
		rec := storage.Record{Item: storage.Item{
			Kind: it.Kind, Service: it.Service, Node: it.Node, ID: it.ID,
			Publisher: it.Publisher, Payload: it.Payload, Received: it.Time,
		}}
		switch it.Kind {
		case hookbot.KindItems:
			digest := sha256.Sum256([]byte(it.Payload))
			rec.Digest = digest[:16]
			if old, ok := handled[it.ID]; ok && string(old) == string(rec.Digest) {
				continue // replay or duplicate
			}
			handled[it.ID] = rec.Digest
			d.added[key]++
		case hookbot.KindRetract:
			delete(handled, it.ID)
		case hookbot.KindPurge, hookbot.KindDelete:
			clear(handled)
		default:
			continue
		}
		if !seed {
			id := d.nextID + 1
			if ids := d.m.dispatchMatching(it, d.acker(id)); len(ids) > 0 {
				d.nextID = id
				rec.Pending, rec.Hooks = id, ids
			}
		}
		recs = append(recs, rec)
	}
	return recs
}

// handledOf returns the handled items of key, loading them once.
func (d *delivery) handledOf(ctx context.Context, key Subscription) map[string][]byte {
	if h, ok := d.handled[key]; ok {
		return h
	}
	h, err := d.db.Handled(ctx, key.Service, key.Node)
	if err != nil {
		d.log.Error("journal: cannot load handled items; replays may run hooks again", "err", err)
		h = make(map[string][]byte)
	}
	d.handled[key] = h
	return h
}

// trim bounds the handled items of key, in memory and stored.
func (d *delivery) trim(ctx context.Context, key Subscription) {
	if d.added[key] < d.keep {
		return
	}
	d.added[key] = 0
	if err := d.db.TrimHandled(ctx, key.Service, key.Node, d.keep); err != nil {
		d.log.Warn("journal: trim", "err", err)
		return
	}
	delete(d.handled, key) // reloaded, trimmed, on next use
}

// close stops the loop after the ops and acks queued so far.
func (d *delivery) close() {
	d.mu.Lock()
	if !d.closed {
		d.closed = true
		d.signal()
	}
	d.mu.Unlock()
	<-d.stopped
}

// Receive hands a notification to delivery. It never blocks: the bot
// calls it from its XMPP serve loop.
func (m *Manager) Receive(n Notification) {
	if len(n.Items) > 0 {
		m.d.push(op{items: n.Items, delayed: n.Delayed})
	}
}

// Resume is the bot's after-(re)connect work: it subscribes again to
// every node that has hooks, then fetches the newest CatchupItems items
// of each and runs the hooks for those not handled yet: items published
// while the bot was away. Live notifications of a node wait until its
// fetched items are dispatched. Meanwhile it unsubscribes from the
// orphan subscriptions, those no hook uses any more (see New). Resume
// returns when every node is done.
func (m *Manager) Resume(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() {
		defer wg.Done()
		m.dropOrphans(ctx)
	}()
	subs := m.Subscriptions()
	if len(subs) == 0 {
		return
	}
	m.d.push(op{hold: subs})
	sem := make(chan struct{}, 4) // requests in flight
	for _, key := range subs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			items := m.resumeNode(ctx, key)
			m.d.push(op{items: items, release: &key})
		}()
	}
}

// resumeNode subscribes to key again and returns its newest items.
func (m *Manager) resumeNode(ctx context.Context, key Subscription) []hookbot.Item {
	start := time.Now()
	state, err := m.opts.PubSub.Subscribe(ctx, key.Service, key.Node)
	if err != nil {
		m.log.Warn("resubscribe failed", "service", key.Service, "node", key.Node, "err", err)
		m.SetState(key.Service, key.Node, "error: "+err.Error())
		return nil
	}
	if state == "" {
		state = StateSubscribed
	}
	m.SetState(key.Service, key.Node, state)
	items, err := m.opts.PubSub.Items(ctx, key.Service, key.Node, m.opts.CatchupItems)
	if err != nil {
		m.log.Debug("catch-up: no items fetched", "service", key.Service, "node", key.Node, "err", err)
		return nil
	}
	m.log.Debug("caught up", "service", key.Service, "node", key.Node, "items", len(items),
		"took", time.Since(start))
	return items
}

// present returns the items now on key, to record as handled before
// the node's first hook is registered.
func (m *Manager) present(ctx context.Context, key Subscription) []hookbot.Item {
	items, err := m.opts.PubSub.Items(ctx, key.Service, key.Node, m.opts.CatchupItems)
	if err != nil {
		m.log.Debug("no items on new node", "service", key.Service, "node", key.Node, "err", err)
	}
	return items
}

// hasNode reports whether some hook watches key.
func (m *Manager) hasNode(key Subscription) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.subs[key] != nil
}
