package pubsub

import (
	"context"
	"testing"
	"time"

	"mellium.im/xmpp"
	"mellium.im/xmpp/mux"
	"mellium.im/xmpp/stanza"

	"hookbot/internal/prosody"
)

const testPassword = "secret-pw"

// testServer is a private Prosody with the accounts bot, admin and user.
type testServer struct {
	*prosody.Server
}

// startProsody starts the server, or skips the test as prosody.Require
// says.
func startProsody(t *testing.T) *testServer {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test skipped in -short mode")
	}
	srv := prosody.Start(t)
	for _, u := range []string{"bot", "admin", "user"} {
		srv.Register(t, u, testPassword)
	}
	return &testServer{srv}
}

// connect logs user in, serves m (nil: an empty mux) and sends initial
// presence: messages to the bare JID, notifications among them, reach
// available resources only.
func (ts *testServer) connect(t *testing.T, user string, m *mux.ServeMux) *xmpp.Session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if m == nil {
		m = mux.New(stanza.NSClient)
	}
	s := ts.DialServe(t, ctx, user, testPassword, "test", m)
	if err := s.Send(ctx, stanza.Presence{}.Wrap(nil)); err != nil {
		t.Fatalf("presence %s: %v", user, err)
	}
	return s
}
