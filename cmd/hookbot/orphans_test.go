package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"hookbot/bot/pubsub"
	"hookbot/hooks"
	"hookbot/internal/prosody"
)

// TestOrphanSubscription: the subscription made for a temporary hook
// outlives the bot that made it (stopping does not unsubscribe); the
// next start ends it, while the node of a persistent hook on the same
// service stays subscribed and keeps running its hook.
func TestOrphanSubscription(t *testing.T) {
	r := newRig(t)
	b := r.startBot(t, nil)
	admin := r.client(t, "admin")
	admin.createNode("temp")
	admin.createNode("kept")
	admin.createHook("temp", "pubsub.localhost", hooks.TypeGoCode, reportHook(adminTest), false)
	admin.createHook("kept", "pubsub.localhost", hooks.TypeGoCode, reportHook(adminTest), true)

	// A second session of the bot's account lists the subscriptions of
	// its bare JID.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	probe := r.srv.DialServe(t, ctx, "bot", "bot-pass", "probe", nil)
	ps := jid.MustParse(prosody.PubSubDomain)
	subscribed := func(node string) bool {
		t.Helper()
		subs, err := pubsub.Subscriptions(ctx, probe, ps)
		if err != nil {
			t.Fatalf("subscriptions: %v", err)
		}
		for _, s := range subs {
			if s.Node == node && s.JID.Equal(jid.MustParse("bot@localhost")) {
				return true
			}
		}
		return false
	}
	if !subscribed("temp") || !subscribed("kept") {
		t.Fatal("not subscribed to the nodes of the hooks")
	}

	b.stop(t)
	if !subscribed("temp") {
		t.Fatal("the stop ended the subscription of the temporary hook: nothing left to test")
	}
	b = r.startBot(t, nil)
	// Resume runs once the bot is online: wait for the orphan to go.
	deadline := time.Now().Add(15 * time.Second)
	for subscribed("temp") {
		if time.Now().After(deadline) {
			t.Fatal("still subscribed to the node of the temporary hook 15 s after the restart")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !subscribed("kept") {
		t.Error("the node of the persistent hook is no longer subscribed")
	}
	// The service may show the change before the bot has its answer and
	// logs it.
	const logged = `msg="unsubscribed from a node no hook uses any more" service=pubsub.localhost node=temp`
	for !strings.Contains(b.log.String(), logged) {
		if time.Now().After(deadline) {
			t.Fatal("the bot did not log the orphan it removed")
		}
		time.Sleep(20 * time.Millisecond)
	}

	admin.publish("pubsub.localhost", "temp", "t1", num(1))
	admin.publish("pubsub.localhost", "kept", "k1", num(2))
	if m := admin.next(10 * time.Second); m.Body != `items k1 <n xmlns="urn:t">2</n>` {
		t.Errorf("run: %q, want the persistent hook's run for k1", m.Body)
	}
	admin.none(500 * time.Millisecond)
}
