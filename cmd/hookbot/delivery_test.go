package main

import (
	"context"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
	mpubsub "mellium.im/xmpp/pubsub"
	"mellium.im/xmpp/stanza"

	"hookbot/bot/adhoc"
	"hookbot/bot/pubsub"
	"hookbot/hooks"
	"hookbot/internal/prosody"
)

// Integration tests of SPEC §4 "Delivery" (issue 4), through the whole
// bot: a hook reports each run, by chat (reportHook, tagHook) or in a
// file (fileHook) when the runs must be seen across restarts of the bot
// or of Prosody.

const adminTest = "admin@localhost/test"

func num(i int) string { return fmt.Sprintf("<n xmlns='urn:t'>%d</n>", i) }

func TestDeliveryRunsInOrder(t *testing.T) {
	r := newRig(t)
	r.startBot(t, nil)
	admin := r.client(t, "admin")
	admin.createNode("news")
	admin.createHook("news", "pubsub.localhost", hooks.TypeGoCode, reportHookFull(adminTest), false)
	for i := 1; i <= 3; i++ {
		admin.publish("pubsub.localhost", "news", fmt.Sprintf("i%d", i), num(i))
	}
	for i := 1; i <= 3; i++ {
		m := admin.next(10 * time.Second)
		want := fmt.Sprintf(`items pubsub.localhost news i%d <n xmlns="urn:t">%d</n>`, i, i)
		if m.Body != want {
			t.Errorf("run %d: %q, want %q", i, m.Body, want)
		}
	}
	admin.none(500 * time.Millisecond)
}

// TestDeliveryReplays checks, on the component and on the admin's PEP
// (a hook with an empty service), that items present before the hook
// — which PEP sends again on every subscription — do not run it, that
// later items do, and that a republished item runs only when its
// payload changed, also after a restart of the bot.
func TestDeliveryReplays(t *testing.T) {
	r := newRig(t)
	b := r.startBot(t, nil)
	admin := r.client(t, "admin")
	admin.presenceBoth(t)
	admin.createNode("news")

	for _, tc := range []struct {
		name     string
		service  string // for the hook and publish
		reported string // Item.Service
	}{
		{"component", "pubsub.localhost", "pubsub.localhost"},
		{"pep", "", "admin@localhost"},
	} {
		t.Logf("%s:", tc.name)
		node := "news"
		if tc.service == "" {
			node = "urn:t:pep"
		}
		want := func(id string, n int) string {
			return fmt.Sprintf(`items %s %s %s <n xmlns="urn:t">%d</n>`, tc.reported, node, id, n)
		}
		admin.publish(tc.service, node, "x0", num(0))
		admin.createHook(node, tc.service, hooks.TypeGoCode, reportHookFull(adminTest), true)
		admin.none(1500 * time.Millisecond) // x0, replayed by PEP on subscription

		steps := []struct {
			id   string
			n    int
			runs bool
		}{
			{"x1", 1, true},
			{"x1", 1, false}, // same payload
			{"x1", 2, true},  // new payload
			{"x0", 0, false}, // present before the hook, same payload
			{"x0", 3, true},
		}
		for _, s := range steps {
			admin.publish(tc.service, node, s.id, num(s.n))
			if !s.runs {
				admin.none(time.Second)
				continue
			}
			if m := admin.next(10 * time.Second); m.Body != want(s.id, s.n) {
				t.Errorf("%s: publish %s %d: run %q, want %q", tc.name, s.id, s.n, m.Body, want(s.id, s.n))
			}
		}
		admin.none(500 * time.Millisecond)

		// A restart of the bot resubscribes (PEP sends the last
		// item again) and catches up: nothing runs twice.
		b.stop(t)
		b = r.startBot(t, nil)
		admin.none(1500 * time.Millisecond)
		admin.publish(tc.service, node, "x4", num(4))
		if m := admin.next(10 * time.Second); m.Body != want("x4", 4) {
			t.Errorf("%s: after restart: run %q, want %q", tc.name, m.Body, want("x4", 4))
		}
		admin.none(500 * time.Millisecond)
	}
}

// TestDeliveryEvents checks that retract, purge and delete reach only
// the hooks whose events ask for them.
func TestDeliveryEvents(t *testing.T) {
	r := newRig(t)
	r.startBot(t, nil)
	admin := r.client(t, "admin")
	admin.createNode("ev")
	ps := jid.MustParse(prosody.PubSubDomain)
	for _, h := range []struct {
		tag    string
		events []string
	}{
		{"I", nil},
		{"R", []string{"retract"}},
		{"P", []string{"purge"}},
		{"D", []string{"delete"}},
		{"A", []string{"items", "retract", "purge", "delete"}},
	} {
		admin.createHook("ev", "pubsub.localhost", hooks.TypeGoCode, tagHook(adminTest, h.tag), false, h.events...)
	}

	for _, s := range []struct {
		name string
		do   func() error
		want []string
	}{
		{"publish", func() error {
			_, err := pubsub.Publish(admin.ctx(), admin.s, ps, "ev", "e1", num(1))
			return err
		}, []string{"A items e1", "I items e1"}},
		{"retract", func() error {
			return mpubsub.DeleteIQ(admin.ctx(), admin.s, stanza.IQ{To: ps}, "ev", "e1", true)
		}, []string{"A retract e1", "R retract e1"}},
		{"publish again", func() error {
			_, err := pubsub.Publish(admin.ctx(), admin.s, ps, "ev", "e2", num(2))
			return err
		}, []string{"A items e2", "I items e2"}},
		{"purge", func() error { return admin.ownerIQ("purge", "ev") }, []string{"A purge ", "P purge "}},
		{"delete", func() error { return admin.ownerIQ("delete", "ev") }, []string{"A delete ", "D delete "}},
	} {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		var got []string
		for range s.want {
			got = append(got, admin.next(10*time.Second).Body)
		}
		sort.Strings(got)
		if !slices.Equal(got, s.want) {
			t.Errorf("%s: runs %q, want %q", s.name, got, s.want)
		}
		admin.none(500 * time.Millisecond)
	}
}

// TestDeliveryBotOffline: items published while the bot is stopped run
// once each, in order, when it starts again.
func TestDeliveryBotOffline(t *testing.T) {
	r := newRig(t)
	b := r.startBot(t, nil)
	admin := r.client(t, "admin")
	admin.createNode("news")
	out := filepath.Join(t.TempDir(), "runs")
	admin.createHook("news", "pubsub.localhost", hooks.TypeGoCode, fileHook(out, 0), true)
	admin.publish("pubsub.localhost", "news", "i1", num(1))
	waitRuns(t, out, 1, 10*time.Second)
	b.stop(t)
	for i := 2; i <= 6; i++ {
		admin.publish("pubsub.localhost", "news", fmt.Sprintf("i%d", i), num(i))
	}
	r.startBot(t, nil)
	waitRuns(t, out, 6, 10*time.Second)
	time.Sleep(time.Second)
	checkRuns(t, out, "i", 1, 6)
}

// TestDeliveryProsodyRestart: items published just before Prosody
// stops, while the bot reconnects and after it is back, run once each,
// in order.
func TestDeliveryProsodyRestart(t *testing.T) {
	r := newRig(t)
	r.startBot(t, nil)
	admin := r.client(t, "admin")
	admin.createNode("news")
	out := filepath.Join(t.TempDir(), "runs")
	admin.createHook("news", "pubsub.localhost", hooks.TypeGoCode, fileHook(out, 0), true)
	for i := 1; i <= 3; i++ {
		admin.publish("pubsub.localhost", "news", fmt.Sprintf("i%d", i), num(i))
	}
	r.srv.Restart(t)
	admin = r.client(t, "admin")
	for i := 4; i <= 6; i++ { // the bot is not back yet
		admin.publish("pubsub.localhost", "news", fmt.Sprintf("i%d", i), num(i))
	}
	r.waitOnline(t)
	for i := 7; i <= 9; i++ {
		admin.publish("pubsub.localhost", "news", fmt.Sprintf("i%d", i), num(i))
	}
	waitRuns(t, out, 9, 15*time.Second)
	time.Sleep(time.Second)
	checkRuns(t, out, "i", 1, 9)
}

// TestDeliveryInterrupted: items accepted but not run when the bot stops
// run after it starts again. A run cut short by the stop runs again
// (at-least-once inside); the hook sees each item complete once.
func TestDeliveryInterrupted(t *testing.T) {
	r := newRig(t)
	b := r.startBot(t, nil)
	admin := r.client(t, "admin")
	admin.createNode("news")
	out := filepath.Join(t.TempDir(), "runs")
	admin.createHook("news", "pubsub.localhost", hooks.TypeGoCode, fileHook(out, 400*time.Millisecond), true)
	for i := 1; i <= 5; i++ {
		admin.publish("pubsub.localhost", "news", fmt.Sprintf("i%d", i), num(i))
	}
	// Stop while i2 runs: i1 done, i2 interrupted, i3–i5 queued.
	waitLines(t, out, "start i2", 10*time.Second)
	b.stop(t)
	before := readLines(t, out)
	r.startBot(t, nil)
	waitRuns(t, out, 5, 15*time.Second)
	time.Sleep(time.Second)
	checkRuns(t, out, "i", 1, 5)
	all := readLines(t, out)
	t.Logf("observed: lines before the stop %q; after the restart %q", before, all[len(before):])
	if got := countPrefix(all, "start i2"); got != 2 {
		t.Errorf("i2 started %d times, want 2 (interrupted, then run again)", got)
	}
}

// TestDeliveryUnsubscribe: the bot stays subscribed while a node has
// hooks and unsubscribes when its last hook is deleted.
func TestDeliveryUnsubscribe(t *testing.T) {
	r := newRig(t)
	r.startBot(t, nil)
	admin := r.client(t, "admin")
	admin.createNode("news")
	// A second session of the bot's account lists the subscriptions of
	// its bare JID.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	probe := r.srv.DialServe(t, ctx, "bot", "bot-pass", "probe", nil)
	ps := jid.MustParse(prosody.PubSubDomain)
	subscribed := func() bool {
		t.Helper()
		subs, err := pubsub.Subscriptions(ctx, probe, ps)
		if err != nil {
			t.Fatalf("subscriptions: %v", err)
		}
		for _, s := range subs {
			if s.Node == "news" && s.JID.Equal(jid.MustParse("bot@localhost")) {
				return true
			}
		}
		return false
	}
	if subscribed() {
		t.Fatal("subscribed before any hook")
	}
	h1 := admin.createHook("news", "pubsub.localhost", hooks.TypeGoCode, reportHook(adminTest), false)
	h2 := admin.createHook("news", "pubsub.localhost", hooks.TypeGoCode, reportHook(adminTest), true)
	if !subscribed() {
		t.Fatal("not subscribed with 2 hooks")
	}
	admin.deleteHooks(h1)
	if !subscribed() {
		t.Fatal("not subscribed with 1 hook left")
	}
	admin.deleteHooks(h2)
	if subscribed() {
		t.Fatal("still subscribed after the last hook was deleted")
	}
	admin.publish("pubsub.localhost", "news", "i1", num(1))
	admin.none(500 * time.Millisecond)
}

// TestDeliverySlowHook: a hook sleeping 2 s per item on node A does not
// delay a hook on node B.
func TestDeliverySlowHook(t *testing.T) {
	r := newRig(t)
	r.startBot(t, func(c *Config) { c.Workers = 2 })
	admin := r.client(t, "admin")
	admin.createNode("a")
	admin.createNode("b")
	slow := `import ("fmt"; "time")
time.Sleep(2 * time.Second)
return bot.Send("` + adminTest + `", fmt.Sprintf("slow %s", item.ID))`
	admin.createHook("a", "pubsub.localhost", hooks.TypeGoCode, slow, false)
	admin.createHook("b", "pubsub.localhost", hooks.TypeGoCode, reportHook(adminTest), false)

	// Warm up B (its first run loads nothing: compiled at creation).
	admin.publish("pubsub.localhost", "b", "w", num(0))
	admin.next(10 * time.Second)

	start := time.Now()
	admin.publish("pubsub.localhost", "a", "a1", num(1))
	admin.publish("pubsub.localhost", "a", "a2", num(2))
	var lat []time.Duration
	for i := 1; i <= 10; i++ {
		t0 := time.Now()
		id := fmt.Sprintf("b%d", i)
		admin.publish("pubsub.localhost", "b", id, num(i))
		m := admin.next(10 * time.Second)
		lat = append(lat, time.Since(t0))
		if want := fmt.Sprintf(`items %s <n xmlns="urn:t">%d</n>`, id, i); m.Body != want {
			t.Fatalf("got %q, want %q", m.Body, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
	busy := time.Since(start)
	for _, id := range []string{"a1", "a2"} {
		if m := admin.next(10 * time.Second); m.Body != "slow "+id {
			t.Fatalf("got %q, want slow %s", m.Body, id)
		}
	}
	slowDone := time.Since(start)
	sorted := slices.Clone(lat)
	slices.Sort(sorted)
	t.Logf("observed: B publish-to-run latency while A sleeps: min %v, median %v, max %v (all %v); B items done at %v, A's 2 runs at %v",
		sorted[0], sorted[len(sorted)/2], sorted[len(sorted)-1], lat, busy, slowDone)
	if busy >= slowDone {
		t.Errorf("A was not busy while B ran: B done at %v, A at %v", busy, slowDone)
	}
	for i, l := range lat {
		if l >= 100*time.Millisecond {
			t.Errorf("b%d: latency %v, want < 100ms", i+1, l)
		}
	}
}

// tagHook is go_code that sends "<tag> <kind> <id>" to to for every run.
func tagHook(to, tag string) string {
	return `return bot.Send("` + to + `", "` + tag + ` " + item.Kind + " " + item.ID)`
}

// fileHook is go_code that appends "<kind> <id>" to the file path for
// every run. With a delay, it first appends "start <id>" and waits that
// long; a run whose context ends meanwhile returns without its line.
func fileHook(path string, delay time.Duration) string {
	return fmt.Sprintf(`import ("fmt"; "os"; "time")
write := func(line string) error {
	f, err := os.OpenFile(%q, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = fmt.Fprintln(f, line)
	return err
}
if %d > 0 {
	if err := write("start " + item.ID); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(%d):
	}
}
return write(item.Kind + " " + item.ID)`, path, delay, delay)
}

// readLines returns the lines of path, none if it does not exist.
func readLines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(data) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

func countPrefix(lines []string, prefix string) int {
	n := 0
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

// waitLines waits until path has a line starting with prefix.
func waitLines(t *testing.T, path, prefix string, d time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(d); countPrefix(readLines(t, path), prefix) == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q line within %v: %q", prefix, d, readLines(t, path))
		}
	}
}

// waitRuns waits until path holds at least n completed runs.
func waitRuns(t *testing.T, path string, n int, d time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(d); countPrefix(readLines(t, path), "items ") < n; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d runs within %v: %q", n, d, readLines(t, path))
		}
	}
}

// checkRuns checks that path holds exactly the runs of items
// <prefix>first … <prefix>last, in that order.
func checkRuns(t *testing.T, path, prefix string, first, last int) {
	t.Helper()
	var got, want []string
	for _, l := range readLines(t, path) {
		if id, ok := strings.CutPrefix(l, "items "); ok {
			got = append(got, id)
		}
	}
	for i := first; i <= last; i++ {
		want = append(want, fmt.Sprintf("%s%d", prefix, i))
	}
	if !slices.Equal(got, want) {
		t.Errorf("runs %q, want %q (each once, in order)", got, want)
	}
}

// presenceBoth makes the presence subscription between c's account and
// the bot mutual: c pre-approves the bot's request, which the bot sends
// when it accepts c's own, then waits until c's roster shows "both".
func (c *client) presenceBoth(t *testing.T) {
	t.Helper()
	bare := botJID.Bare()
	for _, typ := range []stanza.PresenceType{stanza.SubscribedPresence, stanza.SubscribePresence} {
		if err := c.s.Send(c.ctx(), stanza.Presence{To: bare, Type: typ}.Wrap(nil)); err != nil {
			t.Fatalf("presence %s: %v", typ, err)
		}
	}
	var last string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var roster struct {
			Items []struct {
				JID          string `xml:"jid,attr"`
				Subscription string `xml:"subscription,attr"`
			} `xml:"item"`
		}
		err := c.s.UnmarshalIQElement(c.ctx(), xmlstream.Wrap(nil, xml.StartElement{
			Name: xml.Name{Space: "jabber:iq:roster", Local: "query"},
		}), stanza.IQ{Type: stanza.GetIQ}, &roster)
		if err != nil {
			t.Fatalf("roster: %v", err)
		}
		for _, it := range roster.Items {
			if it.JID == bare.String() {
				last = it.Subscription
			}
		}
		if last == "both" {
			return
		}
	}
	t.Fatalf("presence subscription with the bot: %q, want both", last)
}

// ownerIQ sends a pubsub#owner request (purge, delete) for node on the
// component.
func (c *client) ownerIQ(op, node string) error {
	return c.s.UnmarshalIQElement(c.ctx(), xmlstream.Wrap(
		xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Local: op}, Attr: []xml.Attr{{Name: xml.Name{Local: "node"}, Value: node}}}),
		xml.StartElement{Name: xml.Name{Space: pubsub.NS + "#owner", Local: "pubsub"}},
	), stanza.IQ{To: jid.MustParse(prosody.PubSubDomain), Type: stanza.SetIQ}, nil)
}

// deleteHooks deletes hooks by id through the delete command.
func (c *client) deleteHooks(ids ...string) {
	c.t.Helper()
	resp, err := c.command(adhoc.Request{Node: "delete"})
	if err != nil {
		c.t.Fatalf("delete: %v", err)
	}
	resp, err = c.command(adhoc.Request{Node: "delete", SessionID: resp.SessionID, Action: adhoc.Complete,
		Submit: []adhoc.Field{{Var: "hooks", Values: ids}}})
	if err != nil {
		c.t.Fatalf("delete: %v", err)
	}
	if want := fmt.Sprintf("%d hook(s) deleted", len(ids)); resp.Status != "completed" || resp.NoteText("info") != want {
		c.t.Fatalf("delete: status %s, notes %+v, want %q", resp.Status, resp.Notes, want)
	}
}

// TestDeliveryNotifyOnly: on a node that sends notifications without
// payloads, the bot fetches each payload and the hook still sees the
// items in publication order.
func TestDeliveryNotifyOnly(t *testing.T) {
	r := newRig(t)
	r.startBot(t, nil)
	admin := r.client(t, "admin")
	admin.createNodeConfig("bare", map[string]string{"pubsub#deliver_payloads": "0"})
	admin.createHook("bare", "pubsub.localhost", hooks.TypeGoCode, reportHook(adminTest), false)
	const n = 20
	for i := 1; i <= n; i++ {
		admin.publish("pubsub.localhost", "bare", fmt.Sprintf("i%d", i), num(i))
	}
	for i := 1; i <= n; i++ {
		m := admin.next(10 * time.Second)
		if want := fmt.Sprintf(`items i%d <n xmlns="urn:t">%d</n>`, i, i); m.Body != want {
			t.Errorf("run %d: %q, want %q", i, m.Body, want)
		}
	}
	admin.none(500 * time.Millisecond)
}

// createNodeConfig creates node on the component with the node_config
// fields given.
func (c *client) createNodeConfig(node string, config map[string]string) {
	c.t.Helper()
	field := func(v, value string) xml.TokenReader {
		return xmlstream.Wrap(
			xmlstream.Wrap(xmlstream.Token(xml.CharData(value)), xml.StartElement{Name: xml.Name{Local: "value"}}),
			xml.StartElement{Name: xml.Name{Local: "field"}, Attr: []xml.Attr{{Name: xml.Name{Local: "var"}, Value: v}}})
	}
	fields := []xml.TokenReader{field("FORM_TYPE", pubsub.NS+"#node_config")}
	for k, v := range config {
		fields = append(fields, field(k, v))
	}
	form := xmlstream.Wrap(xmlstream.MultiReader(fields...), xml.StartElement{
		Name: xml.Name{Space: "jabber:x:data", Local: "x"}, Attr: []xml.Attr{{Name: xml.Name{Local: "type"}, Value: "submit"}}})
	err := c.s.UnmarshalIQElement(c.ctx(), xmlstream.Wrap(xmlstream.MultiReader(
		xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Local: "create"}, Attr: []xml.Attr{{Name: xml.Name{Local: "node"}, Value: node}}}),
		xmlstream.Wrap(form, xml.StartElement{Name: xml.Name{Local: "configure"}}),
	), xml.StartElement{Name: xml.Name{Space: pubsub.NS, Local: "pubsub"}},
	), stanza.IQ{To: jid.MustParse(prosody.PubSubDomain), Type: stanza.SetIQ}, nil)
	if err != nil {
		c.t.Fatalf("create node %s: %v", node, err)
	}
}

// TestDeliveryCatchupWhileLive: items keep coming while the bot starts
// and catches up; live notifications wait behind the fetched items, and
// every item runs once, in order.
func TestDeliveryCatchupWhileLive(t *testing.T) {
	r := newRig(t)
	b := r.startBot(t, nil)
	admin := r.client(t, "admin")
	admin.createNode("news")
	out := filepath.Join(t.TempDir(), "runs")
	admin.createHook("news", "pubsub.localhost", hooks.TypeGoCode, fileHook(out, 0), true)
	b.stop(t)
	const n = 40
	published := make(chan error, 1)
	go func() {
		ps := jid.MustParse(prosody.PubSubDomain)
		for i := 1; i <= n; i++ {
			if _, err := pubsub.Publish(context.Background(), admin.s, ps, "news", fmt.Sprintf("i%d", i), num(i)); err != nil {
				published <- err
				return
			}
			time.Sleep(25 * time.Millisecond)
		}
		published <- nil
	}()
	time.Sleep(200 * time.Millisecond)
	r.startBot(t, nil)
	if err := <-published; err != nil {
		t.Fatalf("publish: %v", err)
	}
	waitRuns(t, out, n, 15*time.Second)
	time.Sleep(time.Second)
	checkRuns(t, out, "i", 1, n)
}
