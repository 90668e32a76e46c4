package prosody_test

import (
	"context"
	"encoding/xml"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/ping"

	"hookbot/internal/prosody"
)

func TestServer(t *testing.T) {
	srv := prosody.Start(t)
	srv.Register(t, "alice", "alice-pass")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	sess := srv.DialServe(t, ctx, "alice", "alice-pass", "exact", nil)
	if got, want := sess.LocalAddr().String(), "alice@localhost/exact"; got != want {
		t.Errorf("bound %q, want %q", got, want)
	}
	if err := ping.Send(ctx, sess, sess.LocalAddr().Domain()); err != nil {
		t.Errorf("ping server: %v", err)
	}
	if tail := srv.LogTail(5); !strings.Contains(tail, "prosody.log") {
		t.Errorf("LogTail has no prosody.log section:\n%s", tail)
	}
}

func TestWrongPassword(t *testing.T) {
	srv := prosody.Start(t)
	srv.Register(t, "bob", "right")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	addr := jid.MustParse("bob@localhost")
	_, err := prosody.Dial(ctx, srv.Addr, srv.CAFile, addr, "wrong", "r")
	if err == nil {
		t.Fatal("login with a wrong password succeeded")
	}
	var xmlErr *xml.SyntaxError
	if errors.As(err, &xmlErr) {
		t.Errorf("wrong password gave a syntax error: %v", err)
	}
}

func TestRestart(t *testing.T) {
	srv := prosody.Start(t)
	srv.Register(t, "carol", "pass")
	for _, tc := range []struct {
		name string
		stop func() error
	}{
		{"SIGTERM", srv.Stop},
		{"SIGKILL", srv.Kill},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pid := srv.PID()
			if err := tc.stop(); err != nil {
				t.Fatal(err)
			}
			if c, err := net.DialTimeout("tcp", srv.Addr, time.Second); err == nil {
				c.Close()
				t.Fatalf("%s still accepts connections after %s", srv.Addr, tc.name)
			}
			if err := srv.Start(); err != nil {
				t.Fatal(err)
			}
			if srv.PID() == pid {
				t.Errorf("same PID %d after restart", pid)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			// The account survives: the data directory is kept.
			sess := srv.DialServe(t, ctx, "carol", "pass", "again", nil)
			if err := ping.Send(ctx, sess, sess.LocalAddr().Domain()); err != nil {
				t.Errorf("ping after restart: %v", err)
			}
		})
	}
}

func TestParallelServers(t *testing.T) {
	a, b := prosody.Start(t), prosody.Start(t)
	if a.Addr == b.Addr || a.Dir == b.Dir {
		t.Errorf("two servers share an address or directory: %s %s, %s %s", a.Addr, a.Dir, b.Addr, b.Dir)
	}
}
