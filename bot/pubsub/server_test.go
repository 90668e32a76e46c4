package pubsub

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"mellium.im/sasl"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/mux"
	"mellium.im/xmpp/stanza"
)

// testServer is a private Prosody for this package's integration tests.
// It stands in for hookbot/internal/prosody until that harness lands.
type testServer struct {
	addr string
	dir  string
}

const testPassword = "secret-pw"

// startProsody starts a private Prosody with accounts bot, admin and user
// and the pubsub.localhost component, or skips the test when Prosody is
// not installed (fails with HOOKBOT_INTEGRATION=1).
func startProsody(t *testing.T) *testServer {
	t.Helper()
	bin, err := exec.LookPath("prosody")
	if err != nil {
		if os.Getenv("HOOKBOT_INTEGRATION") == "1" {
			t.Fatalf("prosody not installed: %v", err)
		}
		t.Skip("prosody not installed; set HOOKBOT_INTEGRATION=1 to require it")
	}
	if testing.Short() {
		t.Skip("integration test skipped in -short mode")
	}
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cert := exec.Command("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
		"-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,DNS:pubsub.localhost",
		"-keyout", filepath.Join(dir, "localhost.key"), "-out", filepath.Join(dir, "localhost.crt"))
	if out, err := cert.CombinedOutput(); err != nil {
		t.Fatalf("openssl: %v\n%s", err, out)
	}
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`run_as_root = true; pidfile = "%[1]s/prosody.pid"; data_path = "%[1]s/data"; certificates = "%[1]s"
daemonize = false
interfaces = { "127.0.0.1" }; c2s_ports = { %[2]d }; c2s_direct_tls_ports = { }
s2s_ports = { }; http_ports = { }; https_ports = { }; component_ports = { }; use_ipv6 = false
admins = { "admin@localhost" }
authentication = "internal_hashed"; password_hash = "SHA-256"; storage = "internal"
c2s_require_encryption = true; allow_registration = false
log = { { levels = { min = "debug" }, to = "file", filename = "%[1]s/prosody.log" } }
modules_enabled = { "roster"; "saslauth"; "tls"; "disco"; "pep"; "ping"; "posix" }
modules_disabled = { "s2s" }
ssl = { certificate = "%[1]s/localhost.crt"; key = "%[1]s/localhost.key" }
VirtualHost "localhost"
Component "pubsub.localhost" "pubsub"
`, dir, port)
	cfgFile := filepath.Join(dir, "prosody.cfg.lua")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config", cfgFile, "-F")
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(dir, "prosody.log")); err == nil {
				t.Logf("prosody.log (tail):\n%s", tail(b, 8000))
			}
		}
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("prosody did not listen on %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, u := range []string{"bot", "admin", "user"} {
		out, err := exec.Command("prosodyctl", "--config", cfgFile, "register", u, "localhost", testPassword).CombinedOutput()
		if err != nil {
			t.Fatalf("register %s: %v\n%s", u, err, out)
		}
	}
	return &testServer{addr: addr, dir: dir}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// connect logs user in and serves m (nil: an empty mux). The session is
// closed at the end of the test.
func (ts *testServer) connect(t *testing.T, user string, m *mux.ServeMux) *xmpp.Session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	origin := jid.MustParse(user + "@localhost")
	s, err := xmpp.NewClientSession(ctx, origin, conn,
		xmpp.StartTLS(&tls.Config{ServerName: "localhost", InsecureSkipVerify: true}),
		xmpp.SASL("", testPassword, sasl.ScramSha256, sasl.ScramSha1),
		xmpp.BindResource())
	if err != nil {
		conn.Close()
		t.Fatalf("login %s: %v", user, err)
	}
	if m == nil {
		m = mux.New("jabber:client")
	}
	served := make(chan struct{})
	go func() {
		if err := s.Serve(m); err != nil {
			t.Logf("serve %s: %v", user, err)
		}
		close(served)
	}()
	t.Cleanup(func() {
		s.Close()
		conn.Close()
		<-served
	})
	// Messages to the bare JID (notifications) reach available resources
	// only.
	if err := s.Send(ctx, stanza.Presence{}.Wrap(nil)); err != nil {
		t.Fatalf("presence %s: %v", user, err)
	}
	return s
}
