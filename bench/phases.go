package main

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"slices"
	"syscall"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"hookbot/bot/pubsub"
	"hookbot/internal/prosody"
)

// keepUpSlack is how long after the floor's last receipt the bot's last
// run of a burst may come and still count as keeping up.
const keepUpSlack = 100 * time.Millisecond

// idleWindow is how long the bot's idle CPU use is measured.
const idleWindow = 3 * time.Second

// Run sets up, runs every phase and tears everything down. Progress goes
// to log. An error means the bench could not run, not a missed target.
func Run(ctx context.Context, o Options, log io.Writer) (*Results, error) {
	if o.Rate <= 0 {
		o.Rate = 300
	}
	// A bound on everything, including writes to a stalled Prosody. The
	// publisher's Sends use this ctx (see publish), so it is only
	// cancelled once the phases are over.
	limit := 15 * time.Minute
	if o.Quick {
		limit = 3 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	e, err := setup(ctx, o, log)
	if e != nil {
		defer e.close()
	}
	if err != nil {
		return nil, err
	}
	b := &bencher{env: e, runs: newRunLog(e.runFile), sz: o.sizes(), rate: o.Rate, profilePhase: o.ProfilePhase}
	if b.profilePhase == "" {
		b.profilePhase = "paced"
	}
	return b.run(ctx)
}

// bencher runs the phases on an env.
type bencher struct {
	*env
	runs         *runLog
	sz           sizes
	rate         int
	profilePhase string
}

func (b *bencher) run(ctx context.Context) (*Results, error) {
	r := &Results{Rate: b.rate, Sizes: b.sz, Started: time.Now(), CPUs: cpus(), Load: loadavg()}
	pid, fpid := b.bot.Process.Pid, b.floor.cmd.Process.Pid
	var err error
	if r.RSSOnline, err = readMemory(pid); err != nil {
		return nil, err
	}
	if r.FloorRSSOnline, err = readMemory(fpid); err != nil {
		return nil, err
	}
	if r.HookID, err = b.createHook(ctx); err != nil {
		return nil, err
	}
	// Let mellium's deadline watchers of the set-up requests (whose
	// contexts were just cancelled) finish before the publisher writes:
	// see publish.
	time.Sleep(100 * time.Millisecond)
	b.logf("hook %s created; warming up with %d items", r.HookID, b.sz.warmup)
	if _, err := b.paced(ctx, "w", b.sz.warmup, b.rate); err != nil {
		return nil, err
	}
	if err := b.wait(ctx, ids("w", b.sz.warmup), true, 30*time.Second); err != nil {
		return nil, fmt.Errorf("warm-up: %w", err)
	}
	time.Sleep(time.Second)
	// The bot's CPU use with nothing to do (keepalive, timers, giving
	// memory back), which the paced phase's CPU per event includes; then
	// its memory once idle. The same for the floor.
	idle0, err := readStats(pid, fpid)
	if err != nil {
		return nil, err
	}
	time.Sleep(idleWindow)
	idle1, err := readStats(pid, fpid)
	if err != nil {
		return nil, err
	}
	r.IdleCPU = float64(idle1[0].cpu-idle0[0].cpu) / float64(idleWindow)
	r.FloorIdleCPU = float64(idle1[1].cpu-idle0[1].cpu) / float64(idleWindow)
	if r.RSSIdle, err = readMemory(pid); err != nil {
		return nil, err
	}
	if r.FloorRSSIdle, err = readMemory(fpid); err != nil {
		return nil, err
	}

	b.logf("paced: %d items at %d/s", b.sz.paced, b.rate)
	if r.Paced, err = b.pacedPhase(ctx); err != nil {
		return nil, fmt.Errorf("paced: %w", err)
	}
	b.logf("burst: %d items at full speed", b.sz.burst)
	cpu0, err := readStats(pid, fpid)
	if err != nil {
		return nil, err
	}
	if r.Burst, err = b.burstPhase(ctx); err != nil {
		return nil, fmt.Errorf("burst: %w", err)
	}
	b.logf("drain: %d items published while the bot is stopped", b.sz.backlog)
	if r.Drain, err = b.drainPhase(ctx); err != nil {
		return nil, fmt.Errorf("drain: %w", err)
	}
	cpu1, err := readStats(pid, fpid)
	if err != nil {
		return nil, err
	}
	n := time.Duration(b.sz.burst + b.sz.backlog)
	r.CPUBurstDrain = (cpu1[0].cpu - cpu0[0].cpu) / n
	r.FloorCPUBurstDrain = (cpu1[1].cpu - cpu0[1].cpu) / n
	time.Sleep(time.Second)
	if r.RSSAfter, err = readMemory(pid); err != nil {
		return nil, err
	}
	if r.FloorRSSAfter, err = readMemory(fpid); err != nil {
		return nil, err
	}
	r.Dups = b.runs.dups
	r.Load = r.Load + " → " + loadavg()
	return r, nil
}

// profiling starts the bot's CPU profile if phase is the one to profile,
// and returns what stops it.
func (b *bencher) profiling(phase string) func() {
	if b.profile == "" || phase != b.profilePhase {
		return func() {}
	}
	b.bot.Process.Signal(syscall.SIGUSR1)
	return func() {
		b.bot.Process.Signal(syscall.SIGUSR2)
		b.logf("CPU profile of the %s phase: %s", phase, b.profile)
	}
}

// ids returns the item ids prefix-000000 … of a phase, in publish order.
func ids(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%06d", prefix, i)
	}
	return out
}

// publish sends one publish request for id without waiting for the
// answer (the publisher's mux ignores IQ results), so that a burst is
// not limited by round trips. Requests on one stream are handled by
// Prosody in order, so publish order is send order.
func (b *bencher) publish(ctx context.Context, id string) error {
	payload := xmlstream.Wrap(xmlstream.Token(xml.CharData(id)),
		xml.StartElement{Name: xml.Name{Space: "urn:hookbot:bench", Local: "x"}})
	item := xmlstream.Wrap(payload, xml.StartElement{Name: xml.Name{Local: "item"},
		Attr: []xml.Attr{{Name: xml.Name{Local: "id"}, Value: id}}})
	pub := xmlstream.Wrap(item, xml.StartElement{Name: xml.Name{Local: "publish"},
		Attr: []xml.Attr{{Name: xml.Name{Local: "node"}, Value: node}}})
	iq := stanza.IQ{ID: "pub-" + id, To: jid.MustParse(prosody.PubSubDomain), Type: stanza.SetIQ}
	// No per-request timeout: mellium (v0.22.0) watches the ctx of a Send
	// in a goroutine that may see it cancelled after Send returned and
	// then set a past write deadline on the connection, failing the next
	// Send with "i/o timeout". ctx lives as long as the bench.
	if err := b.admin.Send(ctx, iq.Wrap(xmlstream.Wrap(pub, xml.StartElement{Name: xml.Name{Space: pubsub.NS, Local: "pubsub"}}))); err != nil {
		return fmt.Errorf("publish %s: %w", id, err)
	}
	return nil
}

// paced publishes n items at rate per second (0: as fast as possible)
// and returns their send times.
func (b *bencher) paced(ctx context.Context, prefix string, n, rate int) ([]time.Time, error) {
	sent := make([]time.Time, n)
	start := time.Now()
	for i, id := range ids(prefix, n) {
		if rate > 0 {
			if d := time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))); d > 0 {
				time.Sleep(d)
			}
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		sent[i] = time.Now()
		if err := b.publish(ctx, id); err != nil {
			return nil, err
		}
	}
	return sent, nil
}

// wait polls until the floor received ids (when floor is true) and the
// hook ran for all of them, or timeout passes. A timeout is not an error:
// the phase reports what is missing. The bot exiting is.
func (b *bencher) wait(ctx context.Context, ids []string, floor bool, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if err := b.runs.poll(); err != nil {
			return err
		}
		if b.runs.count(ids) == len(ids) && (!floor || b.recv.count(ids) == len(ids)) {
			return nil
		}
		if err := b.botAlive(); err != nil {
			return err
		}
		if err := b.floorAlive(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			b.logf("timeout after %v: %d/%d runs, %d/%d at the floor", timeout, b.runs.count(ids), len(ids), b.recv.count(ids), len(ids))
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// waitFloor polls until the floor received ids or timeout passes.
func (b *bencher) waitFloor(ctx context.Context, ids []string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for b.recv.count(ids) < len(ids) {
		if err := b.floorAlive(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the floor received %d/%d items within %v", b.recv.count(ids), len(ids), timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

// pacedPhase measures latency and CPU per event at b.rate.
func (b *bencher) pacedPhase(ctx context.Context) (Paced, error) {
	// The bot, the floor and Prosody, read together.
	pids := []int{b.bot.Process.Pid, b.floor.cmd.Process.Pid, b.srv.PID()}
	c0, err := readStats(pids...)
	if err != nil {
		return Paced{}, err
	}
	defer b.profiling("paced")()
	start := time.Now()
	sent, err := b.paced(ctx, "p", b.sz.paced, b.rate)
	if err != nil {
		return Paced{}, err
	}
	rate := float64(b.sz.paced) / time.Since(start).Seconds()
	list := ids("p", b.sz.paced)
	if err := b.wait(ctx, list, true, 30*time.Second); err != nil {
		return Paced{}, err
	}
	c1, err := readStats(pids...)
	if err != nil {
		return Paced{}, err
	}
	runs, _ := b.runs.get(list)
	floor := b.recv.get(list)
	var botLat, recvLat, floorLat []time.Duration
	for i := range list {
		if !runs[i].ran.IsZero() {
			botLat = append(botLat, runs[i].ran.Sub(sent[i]))
			recvLat = append(recvLat, runs[i].received.Sub(sent[i]))
		}
		if !floor[i].IsZero() {
			floorLat = append(floorLat, floor[i].Sub(sent[i]))
		}
	}
	n := time.Duration(b.sz.paced)
	return Paced{
		Items:            b.sz.paced,
		Rate:             rate,
		Runs:             len(botLat),
		AtFloor:          len(floorLat),
		Bot:              summarize(botLat),
		BotReceive:       summarize(recvLat),
		Floor:            summarize(floorLat),
		CPUPerEvent:      (c1[0].cpu - c0[0].cpu) / n,
		CPUTotal:         c1[0].cpu - c0[0].cpu,
		CPUSys:           c1[0].sys - c0[0].sys,
		FloorCPUPerEvent: (c1[1].cpu - c0[1].cpu) / n,
		FloorCPUTotal:    c1[1].cpu - c0[1].cpu,
		ProsodyCPU:       (c1[2].cpu - c0[2].cpu) / n,
	}, nil
}

// burstPhase publishes b.sz.burst items as fast as possible.
func (b *bencher) burstPhase(ctx context.Context) (Burst, error) {
	defer b.profiling("burst")()
	start := time.Now()
	sent, err := b.paced(ctx, "b", b.sz.burst, 0)
	if err != nil {
		return Burst{}, err
	}
	pubDur := time.Since(start)
	list := ids("b", b.sz.burst)
	if err := b.wait(ctx, list, true, 60*time.Second); err != nil {
		return Burst{}, err
	}
	runs, pos := b.runs.get(list)
	floor := b.recv.get(list)
	res := Burst{Items: b.sz.burst, PublishRate: float64(b.sz.burst) / pubDur.Seconds()}
	var lastRun, lastFloor time.Time
	var lat, flat []time.Duration
	for i := range list {
		if !runs[i].ran.IsZero() {
			res.Runs++
			lat = append(lat, runs[i].ran.Sub(sent[i]))
			if runs[i].ran.After(lastRun) {
				lastRun = runs[i].ran
			}
		}
		if !floor[i].IsZero() {
			res.AtFloor++
			flat = append(flat, floor[i].Sub(sent[i]))
			if floor[i].After(lastFloor) {
				lastFloor = floor[i]
			}
		}
	}
	res.Reordered = reordered(pos)
	res.Lag = lastRun.Sub(lastFloor)
	res.FloorSpan = lastFloor.Sub(start)
	res.BotSpan = lastRun.Sub(start)
	res.Bot, res.Floor = summarize(lat), summarize(flat)
	res.KeptUp = res.Runs == res.Items && res.AtFloor == res.Items && res.Lag <= keepUpSlack && res.Reordered == 0
	return res, nil
}

// reordered counts the items that ran after an item published later:
// pos[i] is the run position of the i-th published item (-1: never ran).
func reordered(pos []int) int {
	n, highest := 0, -1
	for _, p := range pos {
		if p < 0 {
			continue
		}
		if p < highest {
			n++
		}
		highest = max(highest, p)
	}
	return n
}

// drainPhase stops the bot, publishes b.sz.backlog items, waits until
// the floor has them all, resumes the bot and times the runs.
func (b *bencher) drainPhase(ctx context.Context) (Drain, error) {
	p := b.bot.Process
	if err := p.Signal(syscall.SIGSTOP); err != nil {
		return Drain{}, fmt.Errorf("SIGSTOP hookbot: %w", err)
	}
	resumed := false
	defer func() {
		if !resumed {
			p.Signal(syscall.SIGCONT)
		}
	}()
	for i := 0; ; i++ {
		st, err := readStat(p.Pid)
		if err != nil {
			return Drain{}, err
		}
		if st.state == 'T' {
			break
		}
		if i == 100 {
			return Drain{}, fmt.Errorf("hookbot (pid %d) not stopped after SIGSTOP (state %c)", p.Pid, st.state)
		}
		time.Sleep(10 * time.Millisecond)
	}
	list := ids("d", b.sz.backlog)
	if _, err := b.paced(ctx, "d", b.sz.backlog, 0); err != nil {
		return Drain{}, err
	}
	if err := b.waitFloor(ctx, list, 60*time.Second); err != nil {
		return Drain{}, err
	}
	if err := b.runs.poll(); err != nil {
		return Drain{}, err
	}
	early := b.runs.count(list)
	defer b.profiling("drain")()
	cont := time.Now()
	if err := p.Signal(syscall.SIGCONT); err != nil {
		return Drain{}, fmt.Errorf("SIGCONT hookbot: %w", err)
	}
	resumed = true
	if err := b.wait(ctx, list, false, 120*time.Second); err != nil {
		return Drain{}, err
	}
	runs, pos := b.runs.get(list)
	res := Drain{Items: b.sz.backlog, Early: early, Reordered: reordered(pos)}
	var first, last time.Time
	for _, r := range runs {
		if r.ran.IsZero() {
			continue
		}
		res.Runs++
		if first.IsZero() || r.ran.Before(first) {
			first = r.ran
		}
		if r.ran.After(last) {
			last = r.ran
		}
	}
	if res.Runs > 0 {
		res.First = first.Sub(cont)
		res.Total = last.Sub(cont)
		res.RunsPerSec = float64(res.Runs) / res.Total.Seconds()
	}
	return res, nil
}

// summary is a latency distribution.
type summary struct {
	N             int
	P50, P99, Max time.Duration
}

func summarize(d []time.Duration) summary {
	if len(d) == 0 {
		return summary{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	q := func(p float64) time.Duration {
		// Nearest rank.
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return s[max(0, min(i, len(s)-1))]
	}
	return summary{N: len(s), P50: q(0.50), P99: q(0.99), Max: s[len(s)-1]}
}
