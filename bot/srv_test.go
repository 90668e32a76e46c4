package bot_test

import (
	"context"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	"mellium.im/xmpp/jid"

	"hookbot/bot"
	"hookbot/internal/prosody"
)

// srvRecord is an SRV answer of the fake DNS server.
type srvRecord struct {
	priority uint16
	target   string // a host name ending in "." or "." alone
	port     uint16
}

// fakeDNS starts a DNS server on loopback UDP that answers SRV questions
// from records (by name: "_xmpp-client._tcp.localhost.") and everything
// else with NXDOMAIN, and returns a resolver that asks it.
func fakeDNS(t *testing.T, records map[string][]srvRecord) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if reply, err := answerDNS(buf[:n], records); err == nil {
				pc.WriteTo(reply, from)
			}
		}
	}()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", pc.LocalAddr().String())
	}}
}

func answerDNS(query []byte, records map[string][]srvRecord) ([]byte, error) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil, err
	}
	q, err := p.Question()
	if err != nil {
		return nil, err
	}
	rrs, ok := records[q.Name.String()]
	h.Response, h.Authoritative, h.RCode = true, true, dnsmessage.RCodeSuccess
	if !ok || q.Type != dnsmessage.TypeSRV {
		h.RCode = dnsmessage.RCodeNameError
		rrs = nil
	}
	b := dnsmessage.NewBuilder(nil, h)
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q); err != nil {
		return nil, err
	}
	if err := b.StartAnswers(); err != nil {
		return nil, err
	}
	for _, r := range rrs {
		err := b.SRVResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60},
			dnsmessage.SRVResource{Priority: r.priority, Weight: 1, Port: r.port, Target: dnsmessage.MustNewName(r.target)})
		if err != nil {
			return nil, err
		}
	}
	return b.Finish()
}

// closedPort returns a loopback port that nothing listens on.
func closedPort(t *testing.T) uint16 {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return uint16(port)
}

func portOf(t *testing.T, addr string) uint16 {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return uint16(n)
}

// TestIntegrationDialSRV: without a server address, Dial follows the
// domain's SRV records in priority order (_xmpp-client for STARTTLS,
// _xmpps-client for direct TLS), and a "." target means no service.
func TestIntegrationDialSRV(t *testing.T) {
	srv := prosody.Start(t, prosody.WithDirectTLS())
	srv.Register(t, "bot", "bot-pass")
	down := closedPort(t)
	tests := []struct {
		name    string
		tls     string
		records map[string][]srvRecord
		wantErr string
	}{
		{"starttls, first record down", "starttls", map[string][]srvRecord{
			"_xmpp-client._tcp.localhost.": {{10, "localhost.", portOf(t, srv.Addr)}, {0, "localhost.", down}},
		}, ""},
		{"direct TLS", "direct", map[string][]srvRecord{
			"_xmpp-client._tcp.localhost.":  {{0, "localhost.", down}},
			"_xmpps-client._tcp.localhost.": {{0, "localhost.", portOf(t, srv.DirectTLSAddr)}},
		}, ""},
		{"no service", "starttls", map[string][]srvRecord{
			"_xmpp-client._tcp.localhost.": {{0, ".", 0}},
		}, "offers no xmpp-client service"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			s, err := bot.Dial(ctx, bot.DialConfig{
				JID: jid.MustParse("bot@localhost"), Password: "bot-pass", Resource: "srv",
				TLS: tt.tls, CAFile: srv.CAFile, Logger: slog.New(slog.DiscardHandler),
				Resolver: fakeDNS(t, tt.records),
			})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Dial: %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			defer s.Conn().Close()
			defer s.Close()
			if got := s.LocalAddr().String(); got != "bot@localhost/srv" {
				t.Errorf("bound %s", got)
			}
		})
	}
}

// TestDialNoSRVRecords: a domain without SRV records is dialed on its
// default port, 5222 (5223 for direct TLS).
func TestDialNoSRVRecords(t *testing.T) {
	for _, tt := range []struct{ tls, port string }{{"starttls", "5222"}, {"direct", "5223"}} {
		t.Run(tt.tls, func(t *testing.T) {
			// The domain is a loopback address of its own; a listener
			// there sees whether the dial came, then hangs up.
			const domain = "127.0.0.9"
			l, err := net.Listen("tcp", net.JoinHostPort(domain, tt.port))
			if err != nil {
				t.Skipf("cannot listen on %s:%s (a server of this machine has it?): %v", domain, tt.port, err)
			}
			defer l.Close()
			came := make(chan struct{}, 1)
			go func() {
				if c, err := l.Accept(); err == nil {
					came <- struct{}{}
					c.Close()
				}
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err = bot.Dial(ctx, bot.DialConfig{
				JID: jid.MustParse("bot@" + domain), Password: "p", Resource: "r", TLS: tt.tls,
				Logger: slog.New(slog.DiscardHandler), Resolver: fakeDNS(t, nil),
			})
			if err == nil {
				t.Fatal("Dial succeeded against a listener that hangs up")
			}
			select {
			case <-came:
			default:
				t.Fatalf("Dial did not try %s:%s: %v", domain, tt.port, err)
			}
		})
	}
}
