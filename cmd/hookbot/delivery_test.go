package main

import (
	"fmt"
	"testing"
	"time"

	"hookbot/hooks"
)

// Integration tests of SPEC §4 "Delivery", through the whole bot.

func TestDeliveryRunsInOrder(t *testing.T) {
	r := newRig(t)
	r.startBot(t, nil)
	admin := r.client(t, "admin")
	admin.createNode("news")
	admin.createHook("news", "pubsub.localhost", hooks.TypeGoCode, reportHook("admin@localhost/test"), false)
	for i := 1; i <= 3; i++ {
		admin.publish("pubsub.localhost", "news", fmt.Sprintf("i%d", i), fmt.Sprintf("<n xmlns='urn:t'>%d</n>", i))
	}
	for i := 1; i <= 3; i++ {
		m := admin.next(10 * time.Second)
		want := fmt.Sprintf(`items i%d <n xmlns="urn:t">%d</n>`, i, i)
		if m.Body != want {
			t.Errorf("run %d: %q, want %q", i, m.Body, want)
		}
	}
	admin.none(500 * time.Millisecond)
}
