package hooks

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"hookbot/hooks/hookbot"
	"hookbot/storage"
)

// RunRecord is the record of one hook run.
type RunRecord struct {
	HookID   string
	Item     hookbot.Item
	Start    time.Time
	Duration time.Duration
	Outcome  string // storage.OutcomeOK, …Error, …Panic or …Timeout
	Err      error  // nil when Outcome is ok
	Log      []string
}

// job is one item waiting to run on one hook.
type job struct {
	item  hookbot.Item
	batch *batch // nil when nobody waits
}

// batch counts the runs of one dispatched item that are not over yet.
type batch struct {
	left atomic.Int32
	done func()
}

// finish marks one run of the batch over (run, timed out, or dropped
// because its hook was deleted) and calls done after the last.
func (b *batch) finish() {
	if b != nil && b.left.Add(-1) == 0 {
		b.done()
	}
}

// Dispatch queues item for every hook on (item.Service, item.Node) whose
// Events include item.Kind, and returns how many. It never blocks on a
// run: queues are unbounded, so it may be called from the XMPP serve loop.
// Each hook gets the items of a node in the order they were dispatched.
func (m *Manager) Dispatch(item hookbot.Item) int {
	return m.DispatchFunc(item, nil)
}

// DispatchFunc is Dispatch, and calls done (if not nil) once every run of
// item is over, whatever its outcome — or right away when no hook wants
// it, or when the hooks are deleted first. It is meant for a durable
// journal of received items. done runs on an executor goroutine and must
// not block. Items dropped by Close never call done.
func (m *Manager) DispatchFunc(item hookbot.Item, done func()) int {
	m.mu.Lock()
	n := m.enqueue(m.matching(item), item, done)
	m.mu.Unlock()
	if n == 0 && done != nil {
		done()
	}
	return n
}

// Match returns the ids of the hooks Dispatch would run for item.
func (m *Manager) Match(item hookbot.Item) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return hookIDs(m.matching(item))
}

// dispatchMatching queues item for the hooks Match would return, under
// one lock, and returns their ids. done, if not nil, is called once
// every run of item is over; never when none was queued (no hook, or
// Close), so that a journal entry stays pending for a replay.
func (m *Manager) dispatchMatching(item hookbot.Item, done func()) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	targets := m.matching(item)
	m.enqueue(targets, item, done)
	return hookIDs(targets)
}

// matching returns the hooks on item's node that asked for its kind and
// can run. The caller holds mu.
func (m *Manager) matching(item hookbot.Item) []*entry {
	sub := m.subs[Subscription{item.Service, item.Node}]
	if sub == nil {
		return nil
	}
	var targets []*entry
	for _, e := range sub.hooks {
		if !e.broken && slices.Contains(e.hook.Events, item.Kind) {
			targets = append(targets, e)
		}
	}
	return targets
}

// hookIDs returns the ids of the hooks of entries.
func hookIDs(entries []*entry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e.hook.ID)
	}
	return out
}

// DispatchTo queues item for the hooks with these ids, whatever their
// node and Events (unknown, deleted and broken hooks are skipped), and
// calls done as DispatchFunc does. It is meant for replaying a journal
// entry to the hooks that have not run it yet.
func (m *Manager) DispatchTo(ids []string, item hookbot.Item, done func()) int {
	m.mu.Lock()
	var targets []*entry
	for _, id := range ids {
		if e := m.byID[id]; e != nil && !slices.Contains(targets, e) {
			targets = append(targets, e)
		}
	}
	n := m.enqueue(targets, item, done)
	m.mu.Unlock()
	if n == 0 && done != nil {
		done()
	}
	return n
}

// enqueue appends item to the queues of targets that can run and
// returns how many. The caller holds mu.
func (m *Manager) enqueue(targets []*entry, item hookbot.Item, done func()) int {
	if m.closing {
		return 0
	}
	var b *batch
	if done != nil {
		b = &batch{done: done}
	}
	n := 0
	for _, e := range targets {
		if e.broken || e.deleted {
			continue
		}
		e.queue = append(e.queue, job{item: item, batch: b})
		if !e.scheduled {
			e.scheduled = true
			m.ready = append(m.ready, e)
			m.cond.Signal()
		}
		n++
	}
	if b != nil {
		b.left.Store(int32(n))
	}
	return n
}

// worker runs queued items, one hook at a time, until Close. A hook with
// more items goes back to the end of the ready queue after each run, so
// a busy hook does not starve others.
func (m *Manager) worker() {
	for {
		e, j, ok := m.next()
		if !ok {
			m.wg.Done()
			return
		}
		if !m.execute(e, j) {
			return // replaced, and counted out, by overdue
		}
	}
}

// next waits for the next item to run and marks its hook running. It
// returns false at Close.
func (m *Manager) next() (*entry, job, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for {
		for len(m.ready) == 0 && !m.closing {
			m.cond.Wait()
		}
		if m.closing {
			return nil, job{}, false
		}
		e := m.ready[0]
		m.ready[0] = nil
		m.ready = m.ready[1:]
		if e.deleted || len(e.queue) == 0 {
			// Deleted while waiting its turn.
			e.scheduled = false
			continue
		}
		j := e.queue[0]
		e.queue[0] = job{}
		e.queue = e.queue[1:]
		e.running = true
		m.touch(e)
		return e, j, true
	}
}

// execute runs one item on e, on the calling worker, and records it.
// When the run outlives its deadline by stopGrace, overdue records it as
// timed out and puts a new worker in this one's place; execute then
// returns false once the hook really returns, and the caller must exit.
// The hook stays busy until then.
func (m *Manager) execute(e *entry, j job) bool {
	r := &run{m: m, e: e, job: j, start: time.Now()}
	r.bot.host = m.opts.Host
	prog, err := m.program(e)
	if err != nil {
		r.record(storage.OutcomeError, fmt.Errorf("hook does not compile: %w", err))
		m.release(e, false)
		return true
	}
	ctx, cancel := context.WithTimeout(m.ctx, m.opts.Timeout)
	defer cancel()
	stop := context.AfterFunc(ctx, r.expired)
	outcome, err := r.call(ctx, prog)
	stop()
	r.mu.Lock()
	r.returned = true
	if r.grace != nil {
		r.grace.Stop()
	}
	abandoned := r.abandoned
	r.mu.Unlock()
	r.record(outcome, err)
	m.release(e, outcome == storage.OutcomeTimeout)
	return !abandoned
}

// expired runs when the context of r ends before r returned: r gets
// stopGrace more to return.
func (r *run) expired() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.returned {
		r.grace = time.AfterFunc(stopGrace, r.overdue)
	}
}

// overdue gives up waiting for r: it is recorded as timed out and its
// worker is replaced, so that other hooks keep running.
func (r *run) overdue() {
	r.mu.Lock()
	if r.returned {
		r.mu.Unlock()
		return
	}
	r.abandoned = true
	r.mu.Unlock()
	m := r.m
	m.log.Warn("hook did not stop at its deadline", "hook", r.e.hook.ID)
	r.record(storage.OutcomeTimeout, fmt.Errorf("hook did not stop within %v: %w", m.opts.Timeout, context.DeadlineExceeded))
	m.mu.Lock()
	replace := !m.closing
	if replace {
		m.wg.Add(1)
	}
	m.mu.Unlock()
	if replace {
		go m.worker()
	}
	m.wg.Done() // the abandoned worker's
}

// release ends the run of e and schedules its next item. After a timeout
// the interpreter is rebuilt on the next run.
func (m *Manager) release(e *entry, timedOut bool) {
	var dropped []job
	m.mu.Lock()
	e.running = false
	if timedOut || e.deleted {
		e.unload()
	}
	if e.broken {
		// Found not to compile at its first run: it never runs.
		dropped, e.queue = e.queue, nil
	}
	if len(e.queue) > 0 && !e.deleted && !m.closing {
		m.ready = append(m.ready, e)
		m.cond.Signal()
	} else {
		e.scheduled = false
	}
	m.mu.Unlock()
	for _, j := range dropped {
		j.batch.finish()
	}
}

// touch marks e as just used among the loaded programs and unloads the
// least recently used idle ones beyond MaxLoaded. The caller holds mu.
func (m *Manager) touch(e *entry) {
	if e.lru != nil {
		m.lruList.MoveToFront(e.lru)
	} else {
		e.lru = m.lruList.PushFront(e)
	}
	for el := m.lruList.Back(); el != nil && m.lruList.Len() > m.opts.MaxLoaded; {
		prev := el.Prev()
		old := el.Value.(*entry)
		if !old.running {
			m.lruList.Remove(el)
			old.lru = nil
			old.unload()
		}
		el = prev
	}
}

// run is one run of one item on one hook.
type run struct {
	m     *Manager
	e     *entry
	job   job
	start time.Time
	bot   runBot
	once  sync.Once

	mu        sync.Mutex
	returned  bool        // the hook returned
	grace     *time.Timer // started when the deadline passed
	abandoned bool        // overdue gave up waiting
}

// call runs the hook and classifies its end.
func (r *run) call(ctx context.Context, prog program) (outcome string, err error) {
	defer func() {
		if p := recover(); p != nil {
			outcome, err = storage.OutcomePanic, fmt.Errorf("panic: %v", p)
		}
	}()
	err = prog.Run(ctx, &r.bot, r.job.item)
	switch {
	case err == nil:
		return storage.OutcomeOK, nil
	case ctx.Err() != nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.Is(err, ctx.Err())):
		return storage.OutcomeTimeout, err
	case isPanic(err):
		return storage.OutcomePanic, err
	default:
		return storage.OutcomeError, err
	}
}

// record records the run once: the first of the run's own end and the
// executor's deadline wins.
func (r *run) record(outcome string, err error) {
	r.once.Do(func() {
		r.bot.close()
		rec := RunRecord{
			HookID:   r.e.hook.ID,
			Item:     r.job.item,
			Start:    r.start,
			Duration: time.Since(r.start),
			Outcome:  outcome,
			Err:      err,
			Log:      r.bot.lines(),
		}
		if err != nil {
			r.m.log.Debug("hook run failed", "hook", rec.HookID, "item", rec.Item.ID, "outcome", outcome, "err", err)
		}
		r.m.d.record(rec)
		if r.m.opts.OnRun != nil {
			r.m.opts.OnRun(rec)
		}
		r.job.batch.finish()
	})
}
