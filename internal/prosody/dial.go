package prosody

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"testing"

	"mellium.im/sasl"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"

	"hookbot/internal/bind"
)

// TLSConfig returns a client TLS configuration for domain that trusts the
// PEM certificates in caFile.
func TLSConfig(caFile, domain string) (*tls.Config, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no certificate in %s", caFile)
	}
	return &tls.Config{ServerName: domain, RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// Dial logs in as the bare JID addr with pass over StartTLS and SCRAM,
// binds resource (exactly) and returns the session. The caller runs
// Serve and closes the session and its connection (s.Close, s.Conn().Close).
func Dial(ctx context.Context, server, caFile string, addr jid.JID, pass, resource string) (*xmpp.Session, error) {
	cfg, err := TLSConfig(caFile, addr.Domainpart())
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", server)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", server, err)
	}
	s, err := xmpp.NewClientSession(ctx, addr.Bare(), conn,
		xmpp.StartTLS(cfg),
		xmpp.SASL("", pass, sasl.ScramSha256Plus, sasl.ScramSha1Plus, sasl.ScramSha256, sasl.ScramSha1),
		bind.Resource(resource),
	)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("log in as %s: %w", addr, err)
	}
	return s, nil
}

// Dial logs in as user@localhost (registered before with Register) and
// binds resource. The session is not served: run `go s.Serve(h)` yourself
// (with a mux.ServeMux, or nil to only send), or use DialServe. The
// session and its connection are closed when the test ends.
func (s *Server) Dial(t testing.TB, ctx context.Context, user, pass, resource string) *xmpp.Session {
	t.Helper()
	addr, err := jid.New(user, s.Domain, "")
	if err != nil {
		t.Fatalf("prosody: bad user %q: %v", user, err)
	}
	sess, err := Dial(ctx, s.Addr, s.CAFile, addr, pass, resource)
	if err != nil {
		t.Fatalf("prosody: %v", err)
	}
	t.Cleanup(func() {
		sess.Close()
		sess.Conn().Close()
	})
	return sess
}

// DialServe is Dial followed by `go sess.Serve(h)`. Serve's result is
// reported through t.Logf unless the connection was closed by the test.
func (s *Server) DialServe(t testing.TB, ctx context.Context, user, pass, resource string, h xmpp.Handler) *xmpp.Session {
	t.Helper()
	sess := s.Dial(t, ctx, user, pass, resource)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := sess.Serve(h); err != nil && !errors.Is(err, net.ErrClosed) {
			t.Logf("prosody: session of %s ended: %v", sess.LocalAddr(), err)
		}
	}()
	// Registered after Dial's cleanup, so it runs first: wait for Serve
	// to notice the closed connection before the test ends.
	t.Cleanup(func() {
		sess.Close()
		sess.Conn().Close()
		<-done
	})
	return sess
}
