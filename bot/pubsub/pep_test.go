package pubsub

import (
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

func TestIntegrationPEP(t *testing.T) {
	ts := startProsody(t)
	botJID := jid.MustParse("bot@localhost")
	userJID := jid.MustParse("user@localhost")
	m, rec := eventMux(t, botJID)
	bot := ts.connect(t, "bot", m)
	user := ts.connect(t, "user", nil)
	const node = "urn:hookbot:test"

	// The user's PEP node is created by its first publication, with the
	// default access model "presence".
	if _, err := Publish(ctxT(t), user, jid.JID{}, node, "p0", `<note xmlns='urn:hookbot:test'>zero</note>`); err != nil {
		t.Fatalf("publish to own PEP: %v", err)
	}

	t.Run("presence required", func(t *testing.T) {
		// XEP-0060 says presence-subscription-required; Prosody 0.12
		// answers a bare forbidden.
		state, err := Subscribe(ctxT(t), bot, userJID, node, botJID)
		t.Logf("observed: subscribe without presence subscription: %q, %v", state, err)
		if !Is(err, "presence-subscription-required") && !Is(err, "forbidden") {
			t.Errorf("got %q, %v; want presence-subscription-required or forbidden", state, err)
		}
		if err != nil && !strings.Contains(err.Error(), "node urn:hookbot:test on user@localhost") {
			t.Errorf("message %q does not name the node and service", err)
		}
	})

	// Presence subscription bot → user: the user pre-approves, the bot
	// asks.
	if err := user.Send(ctxT(t), stanza.Presence{To: botJID, Type: stanza.SubscribedPresence}.Wrap(nil)); err != nil {
		t.Fatal(err)
	}
	if err := bot.Send(ctxT(t), stanza.Presence{To: userJID, Type: stanza.SubscribePresence}.Wrap(nil)); err != nil {
		t.Fatal(err)
	}
	var state State
	var err error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		state, err = Subscribe(ctxT(t), bot, userJID, node, botJID)
		if err == nil {
			break
		}
	}
	if err != nil || state != StateSubscribed {
		t.Fatalf("subscribe to PEP: %q, %v", state, err)
	}
	// Drain what the service sends on subscription (last item, or the
	// presence-triggered notifications) and report it.
	for {
		ev, typ, ok := rec.next(t, time.Second)
		if !ok {
			break
		}
		t.Logf("observed: after PEP subscribe (type %q, delayed %v): %+v", typ, ev.Delayed, ev.Items)
	}

	t.Run("subscriptions", func(t *testing.T) {
		subs, err := Subscriptions(ctxT(t), bot, userJID)
		t.Logf("observed: PEP subscriptions %+v, %v", subs, err)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, s := range subs {
			found = found || s.Node == node && s.State == StateSubscribed
		}
		if !found {
			t.Errorf("subscription to %s not listed: %+v", node, subs)
		}
	})

	t.Run("publications", func(t *testing.T) {
		for _, id := range []string{"p1", "p2"} {
			if _, err := Publish(ctxT(t), user, jid.JID{}, node, id, `<note xmlns='urn:hookbot:test'>`+id+`</note>`); err != nil {
				t.Fatal(err)
			}
		}
		for _, id := range []string{"p1", "p2"} {
			ev, typ, ok := rec.next(t, 5*time.Second)
			if !ok {
				t.Fatalf("no notification for %s", id)
			}
			if id == "p1" {
				t.Logf("observed: PEP notification type %q, publisher %q, from %v", typ, ev.Items[0].Publisher, ev.Service)
			}
			it := ev.Items[0]
			if it.Kind != "items" || it.Service != "user@localhost" || it.Node != node || it.ID != id ||
				it.Payload != `<note xmlns="urn:hookbot:test">`+id+`</note>` {
				t.Errorf("got %+v", it)
			}
		}
		items, err := Items(ctxT(t), bot, userJID, node, 10)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, it := range items {
			ids = append(ids, it.ID)
		}
		t.Logf("observed: PEP items (max 10) %v", ids)
	})

	t.Run("presence again", func(t *testing.T) {
		// What a reconnect looks like to the service: a new available
		// presence from the subscribed account.
		if err := bot.Send(ctxT(t), stanza.Presence{}.Wrap(nil)); err != nil {
			t.Fatal(err)
		}
		n := 0
		for {
			ev, _, ok := rec.next(t, time.Second)
			if !ok {
				break
			}
			n++
			t.Logf("observed: after a new available presence: delayed %v %+v", ev.Delayed, ev.Items)
		}
		t.Logf("observed: %d notifications after a new available presence", n)

		// A second session of the bot, as after a reconnect.
		m2, rec2 := eventMux(t, botJID)
		ctx := ctxT(t)
		s2 := ts.DialServe(t, ctx, "bot", testPassword, "second", m2)
		if err := s2.Send(ctx, stanza.Presence{}.Wrap(nil)); err != nil {
			t.Fatal(err)
		}
		ev, _, ok := rec2.next(t, time.Second)
		t.Logf("observed: new session of the bot got a notification: %v %+v", ok, ev.Items)
		s2.Send(ctx, stanza.Presence{Type: stanza.UnavailablePresence}.Wrap(nil))

		// Subscribing again while subscribed, as a reconcile might.
		state, err := Subscribe(ctxT(t), bot, userJID, node, botJID)
		if err != nil || state != StateSubscribed {
			t.Fatalf("resubscribe: %q, %v", state, err)
		}
		ev, _, ok = rec.next(t, time.Second)
		t.Logf("observed: PEP resubscribe while subscribed sent the last item again: %v %+v", ok, ev.Items)
	})

	t.Run("own PEP", func(t *testing.T) {
		const own = "urn:hookbot:own"
		if _, err := Publish(ctxT(t), bot, jid.JID{}, own, "o1", `<note xmlns='urn:hookbot:test'>o1</note>`); err != nil {
			t.Fatal(err)
		}
		if _, err := Subscribe(ctxT(t), bot, jid.JID{}, own, botJID); err != nil {
			t.Fatal(err)
		}
		for {
			ev, _, ok := rec.next(t, 500*time.Millisecond)
			if !ok {
				break
			}
			t.Logf("observed: after own PEP subscribe: %+v", ev.Items)
		}
		if _, err := Publish(ctxT(t), bot, jid.JID{}, own, "o2", `<note xmlns='urn:hookbot:test'>o2</note>`); err != nil {
			t.Fatal(err)
		}
		ev, _, ok := rec.next(t, 5*time.Second)
		if !ok || ev.Items[0].ID != "o2" || ev.Items[0].Service != "bot@localhost" {
			t.Fatalf("own PEP event: %v %+v", ok, ev)
		}
		items, err := Items(ctxT(t), bot, jid.JID{}, own, 1)
		if err != nil || len(items) != 1 || items[0].ID != "o2" || items[0].Service != "bot@localhost" {
			t.Errorf("own PEP items: %+v, %v", items, err)
		}
	})

	t.Run("unsubscribe", func(t *testing.T) {
		if err := Unsubscribe(ctxT(t), bot, userJID, node, botJID); err != nil {
			t.Fatal(err)
		}
		subs, err := Subscriptions(ctxT(t), bot, userJID)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range subs {
			if s.Node == node {
				t.Errorf("still listed: %+v", subs)
			}
		}
		if _, err := Publish(ctxT(t), user, jid.JID{}, node, "p3", `<note xmlns='urn:hookbot:test'>p3</note>`); err != nil {
			t.Fatal(err)
		}
		if ev, _, ok := rec.next(t, time.Second); ok {
			// Prosody may still send +notify style notifications when the
			// bot advertises the feature; the bot here does not.
			t.Errorf("event after unsubscribe: %+v", ev)
		}
	})
}
