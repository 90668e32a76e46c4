package hooks

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"hookbot/hooks/hookbot"
	"hookbot/hooks/runtime"
	"hookbot/storage"
)

// program is compiled hook code: *runtime.Program, or a fake in tests.
type program interface {
	Run(ctx context.Context, bot hookbot.Bot, item hookbot.Item) error
	Unload()
}

// compileFunc compiles the code of a hook.
type compileFunc func(ctx context.Context, src runtime.Source) (program, error)

func compileRuntime(ctx context.Context, src runtime.Source) (program, error) {
	p, err := runtime.Compile(ctx, src)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Subscription is a (service, node) pair that hooks watch.
type Subscription struct {
	Service, Node string
}

// subscription is the registry's view of one Subscription.
type subscription struct {
	state string   // state of every hook on it
	hooks []*entry // oldest first
}

// entry is a registered hook and its executor state.
type entry struct {
	// hook is immutable after registration but for State, which is
	// guarded by Manager.mu.
	hook Hook
	seq  int64

	// loadMu guards prog and loadErr: the code, compiled on first need.
	loadMu  sync.Mutex
	prog    program
	loadErr error

	// Guarded by Manager.mu.
	broken    bool          // the code does not compile: never runs
	deleted   bool          // removed from the registry
	queue     []job         // items waiting to run, in order
	scheduled bool          // in the ready queue or running
	running   bool          // a run is under way (maybe abandoned)
	lru       *list.Element // position among loaded programs, nil if not
}

// Manager is the hook registry and executor. It implements the Hooks
// interface of package commands.
type Manager struct {
	opts    Options
	compile compileFunc
	log     *slog.Logger
	d       *delivery

	ctx    context.Context // canceled by Close: stops runs and loading
	cancel context.CancelFunc
	wg     sync.WaitGroup // workers, loader and recorder
	loaded chan struct{}  // closed when stored hooks are validated

	// opMu serializes Create, Delete and the removal of orphan
	// subscriptions, which call the PubSub service and the database;
	// Dispatch never takes it.
	opMu sync.Mutex
	// orphanMu serializes the orphan cleanups of Resumes (see
	// dropOrphans); taken before opMu, never while holding it.
	orphanMu sync.Mutex

	mu      sync.Mutex
	cond    *sync.Cond // signaled when ready gets a hook or closing
	closing bool
	byID    map[string]*entry
	order   []*entry // every hook, oldest first
	subs    map[Subscription]*subscription
	ready   []*entry // hooks with queued items, in turn
	lruList *list.List
	// orphans are recorded subscriptions that no hook uses: left by
	// temporary hooks when the bot stopped, by a creation that did not
	// finish, or by an unsubscription whose outcome is unknown. The next
	// Resume unsubscribes from them.
	orphans []Subscription
}

// New returns a Manager that has loaded the persistent hooks of
// opts.DB. Their code is compiled in the background (see WaitLoaded): a
// hook whose code no longer compiles stays listed with State "error: …"
// and does not run. New does not subscribe: the bot resubscribes to
// Subscriptions once connected, and reports with SetState. The recorded
// subscriptions that no stored hook uses any more are orphans, which the
// first Resume unsubscribes from.
func New(ctx context.Context, opts Options) (*Manager, error) {
	return newManager(ctx, opts, compileRuntime)
}

func newManager(ctx context.Context, opts Options, compile compileFunc) (*Manager, error) {
	if opts.DB == nil {
		return nil, errors.New("hooks: Options.DB is required")
	}
	if opts.PubSub == nil {
		return nil, errors.New("hooks: Options.PubSub is required")
	}
	opts = opts.withDefaults()
	if err := opts.DB.DeleteOrphanRuns(ctx); err != nil {
		return nil, fmt.Errorf("hooks: %w", err)
	}
	stored, err := opts.DB.LoadHooks(ctx)
	if err != nil {
		return nil, fmt.Errorf("hooks: %w", err)
	}
	m := &Manager{
		opts:    opts,
		compile: compile,
		log:     opts.Logger,
		loaded:  make(chan struct{}),
		byID:    make(map[string]*entry),
		subs:    make(map[Subscription]*subscription),
		lruList: list.New(),
	}
	m.cond = sync.NewCond(&m.mu)
	m.ctx, m.cancel = context.WithCancel(context.WithoutCancel(ctx))

	entries := make([]*entry, 0, len(stored))
	for _, s := range stored {
		e := &entry{seq: s.Seq, hook: Hook{
			ID: s.ID, Owner: s.Owner, Service: s.Service, Node: s.Node,
			Type: Type(s.Type), Arg: s.Arg, Persistent: true,
			Events: s.Events, Created: s.Created, State: StateSubscribed,
		}}
		m.register(e, StateSubscribed)
		entries = append(entries, e)
	}
	recorded, err := opts.DB.Subscriptions(ctx)
	if err != nil {
		return nil, fmt.Errorf("hooks: %w", err)
	}
	for _, r := range recorded {
		if key := (Subscription{r.Service, r.Node}); m.subs[key] == nil {
			m.orphans = append(m.orphans, key)
		}
	}

	m.d = newDelivery(m, opts.DB, max(DefaultKeepHandled, 2*opts.CatchupItems), opts.KeepRuns)
	if err := m.d.replay(ctx); err != nil {
		return nil, fmt.Errorf("hooks: %w", err)
	}
	go m.d.loop()
	m.wg.Add(opts.Workers)
	for range opts.Workers {
		go m.worker()
	}
	m.startLoader(entries)
	return m, nil
}

// Subscription states, the values of Hook.State but for errors.
const (
	StateSubscribed = "subscribed"
	StatePending    = "pending"
)

// register adds e to the registry. The caller holds mu or owns m alone.
func (m *Manager) register(e *entry, state string) {
	key := Subscription{e.hook.Service, e.hook.Node}
	sub := m.subs[key]
	if sub == nil {
		sub = &subscription{state: state}
		m.subs[key] = sub
	}
	if !e.broken {
		e.hook.State = sub.state
	}
	sub.hooks = append(sub.hooks, e)
	m.byID[e.hook.ID] = e
	m.order = append(m.order, e)
}

// startLoader compiles the stored hooks in the background, a few at a
// time, and closes m.loaded when done. Each program is unloaded again
// unless it has run meanwhile: compiling only validates.
func (m *Manager) startLoader(entries []*entry) {
	if len(entries) == 0 {
		close(m.loaded)
		return
	}
	next := make(chan *entry)
	var wg sync.WaitGroup
	n := min(len(entries), max(1, m.opts.Workers))
	wg.Add(n)
	for range n {
		go func() {
			defer wg.Done()
			for e := range next {
				if _, err := m.program(e); err == nil {
					m.unloadIfIdle(e)
				}
			}
		}()
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer close(m.loaded)
		defer wg.Wait()
		defer close(next)
		for _, e := range entries {
			select {
			case next <- e:
			case <-m.ctx.Done():
				return
			}
		}
	}()
}

// WaitLoaded waits until the code of every stored hook has been compiled
// once (or found broken), or ctx is done.
func (m *Manager) WaitLoaded(ctx context.Context) error {
	select {
	case <-m.loaded:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// program returns the compiled code of e, compiling it on first need. A
// compile error marks the hook broken for good.
func (m *Manager) program(e *entry) (program, error) {
	e.loadMu.Lock()
	if e.prog == nil && e.loadErr == nil {
		// Type and Arg only: State may change meanwhile (SetState).
		src := sourceOf(Hook{Type: e.hook.Type, Arg: e.hook.Arg}, m.opts.HooksPath)
		e.prog, e.loadErr = m.compile(m.ctx, src)
		if e.loadErr != nil && m.ctx.Err() != nil {
			// Stopped, not broken: leave it for another try.
			err := e.loadErr
			e.loadErr = nil
			e.loadMu.Unlock()
			return nil, err
		}
		if e.loadErr != nil {
			err := e.loadErr
			e.loadMu.Unlock()
			m.log.Warn("hook does not compile", "hook", e.hook.ID, "err", err)
			m.mu.Lock()
			e.broken = true
			e.hook.State = "error: " + err.Error()
			m.mu.Unlock()
			return nil, err
		}
	}
	p, err := e.prog, e.loadErr
	e.loadMu.Unlock()
	return p, err
}

// unloadIfIdle frees the interpreter of e unless e is among the recently
// run hooks or is running.
func (m *Manager) unloadIfIdle(e *entry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e.lru == nil && !e.running {
		e.unload()
	}
}

// unload frees the interpreter of e if it is loaded and not being
// compiled. The caller holds Manager.mu and e is not running.
func (e *entry) unload() {
	if !e.loadMu.TryLock() {
		return
	}
	if e.prog != nil {
		e.prog.Unload()
	}
	e.loadMu.Unlock()
}

// Create compiles, subscribes and registers h, and returns it with its
// ID, Created and State filled in. An empty Service means the owner's
// bare JID (their PEP service). Errors are meant for the user: a compile
// error lists its problems with positions; a refused subscription says
// why; a persistent hook that cannot be stored is not created.
func (m *Manager) Create(ctx context.Context, h Hook) (Hook, error) {
	h, prog, err := prepare(ctx, h, m.opts.HooksPath, m.compile)
	if err != nil {
		return Hook{}, err
	}
	created := false
	defer func() {
		if !created {
			prog.Unload()
		}
	}()

	m.opMu.Lock()
	defer m.opMu.Unlock()
	if m.isClosing() {
		return Hook{}, errors.New("hooks: shutting down")
	}
	seq, err := m.opts.DB.NextSeq(ctx)
	if err != nil {
		return Hook{}, fmt.Errorf("create hook: %w", err)
	}
	h.ID = strconv.FormatInt(seq, 36)
	h.Created = time.Now()

	key := Subscription{h.Service, h.Node}
	m.mu.Lock()
	sub := m.subs[key]
	m.mu.Unlock()
	state, subscribed := "", false
	if sub == nil {
		// Recorded first: if the bot dies once subscribed, the next
		// start finds the subscription and, without a stored hook on the
		// node, ends it.
		if err := m.opts.DB.AddSubscription(ctx, key.Service, key.Node); err != nil {
			return Hook{}, fmt.Errorf("create hook: %w", err)
		}
		// Hold the node's notifications until the hook is registered:
		// one published meanwhile must reach it.
		m.d.push(op{hold: []Subscription{key}})
		defer func() {
			if !created {
				m.d.push(op{release: &key})
			}
		}()
		state, err = m.opts.PubSub.Subscribe(ctx, h.Service, h.Node)
		if err != nil {
			switch {
			case unanswered(ctx, err):
				// Maybe subscribed after all: the next Resume ends it.
				m.addOrphan(key)
			case !m.isOrphan(key):
				// Not subscribed. (A queued orphan may still be: the
				// next Resume ends it, and then drops the record.)
				m.dropRecord(ctx, key)
			}
			return Hook{}, fmt.Errorf("subscribe to node %s on %s: %w", h.Node, h.Service, err)
		}
		if state == "" {
			state = StateSubscribed
		}
		subscribed = true
	}
	// The items on a new node are recorded as handled: its first hook
	// runs for what is published after its creation only.
	var present []hookbot.Item
	if subscribed {
		present = m.present(ctx, key)
	}
	if h.Persistent {
		err := m.opts.DB.InsertHooks(ctx, storage.Hook{
			ID: h.ID, Seq: seq, Owner: h.Owner, Service: h.Service, Node: h.Node,
			Type: string(h.Type), Arg: h.Arg, Events: h.Events, Created: h.Created,
		})
		if err != nil {
			if subscribed {
				m.unsubscribeLast(ctx, key)
			}
			return Hook{}, fmt.Errorf("create hook: %w", err)
		}
	}
	// Register through delivery, so that the hook gets exactly the items
	// received after this point.
	e := &entry{hook: h, seq: seq, prog: prog}
	err = m.d.wait(op{items: present, seed: &key, unhold: subscribed, register: func() {
		m.mu.Lock()
		m.register(e, state)
		m.touch(e)
		m.mu.Unlock()
	}})
	if err != nil {
		if h.Persistent {
			if err := m.opts.DB.DeleteHooks(ctx, h.ID); err != nil {
				m.log.Error("undo hook creation", "hook", h.ID, "err", err)
			}
		}
		if subscribed {
			m.unsubscribeLast(ctx, key)
		}
		return Hook{}, fmt.Errorf("create hook: %w", err)
	}
	m.mu.Lock()
	h = e.hook
	m.mu.Unlock()
	created = true
	m.log.Info("hook created", "hook", h.ID, "owner", h.Owner, "service", h.Service,
		"node", h.Node, "type", h.Type, "persistent", h.Persistent)
	return h, nil
}

func (m *Manager) isClosing() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closing
}

// unsubscribe ends the bot's subscription to key, which no hook uses,
// and returns the service's error. Delivery forgets the node's handled
// items (a new first hook records the node's items again), so the
// journal is bounded by the nodes that have hooks. The record of the
// subscription is removed, unless the request got no answer (ctx done:
// the connection went away, or it timed out): then the subscription may
// still be there, and stays recorded and queued for the next Resume.
// Any other error leaves nothing to undo (not subscribed, no such node).
// The caller holds opMu.
func (m *Manager) unsubscribe(ctx context.Context, key Subscription) error {
	err := m.opts.PubSub.Unsubscribe(ctx, key.Service, key.Node)
	m.d.push(op{forget: &key})
	if err != nil && unanswered(ctx, err) {
		m.addOrphan(key)
		return err
	}
	m.dropRecord(ctx, key)
	m.unqueueOrphan(key)
	return err
}

// unsubscribeLast unsubscribes from key, whose last hook is gone (or was
// never created), logging a failure: the hooks are gone whatever the
// service says.
func (m *Manager) unsubscribeLast(ctx context.Context, key Subscription) {
	if err := m.unsubscribe(ctx, key); err != nil {
		m.log.Warn("unsubscribe failed", "service", key.Service, "node", key.Node, "err", err)
	}
}

// unanswered reports whether err, from a request made with ctx, says
// nothing of the service's state: ctx is done (the connection went away)
// or the request timed out.
func unanswered(ctx context.Context, err error) bool {
	return ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// dropRecord removes the record of the bot's subscription to key. A
// failure is logged: the next start finds the record, and the
// unsubscription then fails harmlessly.
func (m *Manager) dropRecord(ctx context.Context, key Subscription) {
	if err := m.opts.DB.DeleteSubscription(context.WithoutCancel(ctx), key.Service, key.Node); err != nil {
		m.log.Warn("forget subscription", "service", key.Service, "node", key.Node, "err", err)
	}
}

// addOrphan queues key for the next Resume to unsubscribe from.
func (m *Manager) addOrphan(key Subscription) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !slices.Contains(m.orphans, key) {
		m.orphans = append(m.orphans, key)
	}
}

// unqueueOrphan removes key from the queued orphans.
func (m *Manager) unqueueOrphan(key Subscription) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.orphans = slices.DeleteFunc(m.orphans, func(k Subscription) bool { return k == key })
}

// isOrphan reports whether key is queued for the next Resume.
func (m *Manager) isOrphan(key Subscription) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Contains(m.orphans, key)
}

// dropOrphans unsubscribes from the queued orphan subscriptions, each
// under opMu and only if the node still has no hook (one created
// meanwhile makes the subscription its own: the record stays). An
// orphan whose request gets no answer (ctx done) stays queued for the
// next Resume, as do those not tried because ctx ended or the Manager
// is closing.
func (m *Manager) dropOrphans(ctx context.Context) {
	m.orphanMu.Lock()
	defer m.orphanMu.Unlock()
	m.mu.Lock()
	orphans := slices.Clone(m.orphans)
	m.mu.Unlock()
	for _, key := range orphans {
		if ctx.Err() != nil || m.isClosing() {
			return
		}
		m.dropOrphan(ctx, key)
	}
}

// dropOrphan unsubscribes from the orphan subscription key unless a hook
// uses it now.
func (m *Manager) dropOrphan(ctx context.Context, key Subscription) {
	m.opMu.Lock()
	defer m.opMu.Unlock()
	if m.isClosing() || !m.isOrphan(key) {
		return // stopping, or dealt with meanwhile
	}
	if m.hasNode(key) {
		m.unqueueOrphan(key)
		return
	}
	err := m.unsubscribe(ctx, key)
	switch {
	case err == nil:
		m.log.Info("unsubscribed from a node no hook uses any more", "service", key.Service, "node", key.Node)
	case unanswered(ctx, err):
		m.log.Info("unsubscribe from a node no hook uses: no answer, trying again at the next connection",
			"service", key.Service, "node", key.Node, "err", err)
	default:
		m.log.Info("unsubscribe from a node no hook uses failed; forgetting the subscription",
			"service", key.Service, "node", key.Node, "err", err)
	}
}

// Delete deletes the hooks with these ids and returns how many it
// deleted. Unknown ids are skipped. Deleting the last hook on a node
// unsubscribes from it.
func (m *Manager) Delete(ctx context.Context, ids []string) (int, error) {
	m.opMu.Lock()
	defer m.opMu.Unlock()
	return m.deleteLocked(ctx, ids)
}

// DeleteMatching deletes every hook f matches (see Filter) and returns
// how many.
func (m *Manager) DeleteMatching(ctx context.Context, f Filter) (int, error) {
	if f.Node == "" {
		return 0, errors.New("node is required to delete by filter")
	}
	absArg := ""
	if f.Arg != "" && (f.Type == "" || f.Type == TypeGoFile) {
		absArg, _ = filepath.Abs(f.Arg)
	}
	m.opMu.Lock()
	defer m.opMu.Unlock()
	var ids []string
	m.mu.Lock()
	for _, e := range m.order {
		h := e.hook
		if f.matches(h) || (absArg != "" && h.Type == TypeGoFile && h.Arg == absArg && (Filter{f.Owner, f.Service, f.Node, f.Type, ""}).matches(h)) {
			ids = append(ids, h.ID)
		}
	}
	m.mu.Unlock()
	return m.deleteLocked(ctx, ids)
}

// deleteLocked deletes hooks; the caller holds opMu.
func (m *Manager) deleteLocked(ctx context.Context, ids []string) (int, error) {
	var stored, temp []string
	m.mu.Lock()
	seen := make(map[string]bool)
	for _, id := range ids {
		e := m.byID[id]
		if e == nil || seen[id] {
			continue
		}
		seen[id] = true
		if e.hook.Persistent {
			stored = append(stored, id)
		} else {
			temp = append(temp, id)
		}
	}
	m.mu.Unlock()
	if len(stored)+len(temp) == 0 {
		return 0, nil
	}
	if err := m.opts.DB.DeleteHooks(ctx, stored...); err != nil {
		return 0, fmt.Errorf("delete hooks: %w", err)
	}
	if err := m.opts.DB.DeleteRuns(ctx, temp...); err != nil {
		m.log.Warn("delete runs of temporary hooks", "err", err)
	}

	var (
		emptied []Subscription
		dropped []job
	)
	m.mu.Lock()
	for id := range seen {
		e := m.byID[id]
		delete(m.byID, id)
		e.deleted = true
		dropped = append(dropped, e.queue...)
		e.queue = nil
		if e.lru != nil {
			m.lruList.Remove(e.lru)
			e.lru = nil
		}
		if !e.running {
			e.unload()
		}
		key := Subscription{e.hook.Service, e.hook.Node}
		sub := m.subs[key]
		sub.hooks = slices.DeleteFunc(sub.hooks, func(x *entry) bool { return x == e })
		if len(sub.hooks) == 0 {
			delete(m.subs, key)
			emptied = append(emptied, key)
		}
	}
	m.order = slices.DeleteFunc(m.order, func(e *entry) bool { return e.deleted })
	m.mu.Unlock()

	for _, j := range dropped {
		j.batch.finish()
	}
	for _, key := range emptied {
		m.unsubscribeLast(ctx, key)
	}
	n := len(seen)
	m.log.Info("hooks deleted", "count", n)
	return n, nil
}

// List returns the hooks of owner, or every hook when owner is "",
// oldest first.
func (m *Manager) List(owner string) []Hook {
	m.mu.Lock()
	defer m.mu.Unlock()
	var hs []Hook
	for _, e := range m.order {
		if owner == "" || e.hook.Owner == owner {
			hs = append(hs, e.hook.clone())
		}
	}
	return hs
}

// Get returns the hook with this id.
func (m *Manager) Get(id string) (Hook, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.byID[id]
	if e == nil {
		return Hook{}, false
	}
	return e.hook.clone(), true
}

// ByNode returns the hooks on node of service, oldest first.
func (m *Manager) ByNode(service, node string) []Hook {
	m.mu.Lock()
	defer m.mu.Unlock()
	sub := m.subs[Subscription{service, node}]
	if sub == nil {
		return nil
	}
	hs := make([]Hook, len(sub.hooks))
	for i, e := range sub.hooks {
		hs[i] = e.hook.clone()
	}
	return hs
}

// Subscriptions returns every (service, node) that hooks watch, in the
// order of their oldest hook: what the bot subscribes to after a
// (re)connect.
func (m *Manager) Subscriptions() []Subscription {
	m.mu.Lock()
	defer m.mu.Unlock()
	var subs []Subscription
	seen := make(map[Subscription]bool)
	for _, e := range m.order {
		key := Subscription{e.hook.Service, e.hook.Node}
		if !seen[key] {
			seen[key] = true
			subs = append(subs, key)
		}
	}
	return subs
}

// SetState records the state of the bot's subscription to node on
// service ("subscribed", "pending" or "error: <reason>"), as found after
// a (re)connect. Hooks whose code does not compile keep their error.
func (m *Manager) SetState(service, node, state string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sub := m.subs[Subscription{service, node}]
	if sub == nil {
		return
	}
	sub.state = state
	for _, e := range sub.hooks {
		if !e.broken {
			e.hook.State = state
		}
	}
}

// Close stops the workers (running hooks see their context canceled),
// stores the pending run records and frees the interpreters. Queued items
// that have not run are dropped. It does not close the database.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closing {
		m.mu.Unlock()
		return nil
	}
	m.closing = true
	m.cond.Broadcast()
	m.mu.Unlock()
	m.cancel()
	m.wg.Wait()
	m.d.close()
	m.mu.Lock()
	for _, e := range m.order {
		if !e.running {
			e.unload()
		}
	}
	m.mu.Unlock()
	return nil
}

func (h Hook) clone() Hook {
	h.Events = slices.Clone(h.Events)
	return h
}
