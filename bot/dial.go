package bot

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"

	"mellium.im/sasl"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stream"

	"hookbot/internal/bind"
)

// DialConfig says how to log in to an XMPP server. Both the bot and
// hookbot ctl use it, so that they connect the same way.
type DialConfig struct {
	JID                jid.JID // the account; its bare part is used
	Password           string
	Server             string // host:port; "" for SRV lookup, then domain:5222
	Resource           string // resource to bind; it must be bound as asked
	TLS                string // "starttls" (default), "direct" or "none"
	CAFile             string // extra PEM roots; "" for the system roots
	InsecureSkipVerify bool   // tests only; logs a warning
	Logger             *slog.Logger
	// Resolver looks up the SRV records and host names; nil is
	// net.DefaultResolver.
	Resolver *net.Resolver
}

// Dial connects to the server of cfg.JID (or cfg.Server), negotiates TLS
// and SASL and binds cfg.Resource. An error wraps ErrAuth when the server
// refuses the credentials. TLS "none" is refused unless cfg.Server is a
// loopback address (localhost, 127.0.0.0/8, ::1). The caller serves the
// session and closes it and its connection.
func Dial(ctx context.Context, cfg DialConfig) (*xmpp.Session, error) {
	if cfg.TLS == "" {
		cfg.TLS = "starttls"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	switch cfg.TLS {
	case "starttls", "direct":
	case "none":
		if !IsLoopback(cfg.Server) {
			return nil, fmt.Errorf("tls none is refused unless the server is a loopback address (server %q)", cfg.Server)
		}
	default:
		return nil, fmt.Errorf("tls %q: want starttls, direct or none", cfg.TLS)
	}
	if cfg.Resource == "" {
		return nil, errors.New("dial: no resource to bind")
	}
	account := cfg.JID.Bare()
	tlsCfg, err := cfg.tlsConfig()
	if err != nil {
		return nil, err
	}
	conn, err := cfg.connect(ctx, tlsCfg)
	if err != nil {
		return nil, err
	}

	mechs := []sasl.Mechanism{sasl.ScramSha256Plus, sasl.ScramSha1Plus, sasl.ScramSha256, sasl.ScramSha1}
	var features []xmpp.StreamFeature
	switch cfg.TLS {
	case "starttls":
		features = append(features, xmpp.StartTLS(tlsCfg))
		mechs = append(mechs, sasl.Plain) // mellium tries SASL only on a secure stream
	case "direct":
		mechs = append(mechs, sasl.Plain)
	}
	features = append(features,
		xmpp.SASL("", cfg.Password, mechs...),
		bind.Resource(cfg.Resource),
	)
	var state xmpp.SessionState
	if cfg.TLS == "none" {
		// Plain text on loopback only (checked above): let SASL run,
		// which mellium does only on a secure stream. PLAIN stays off.
		state = xmpp.Secure
	}
	// mellium does not stop reading when ctx ends: a server that accepts
	// and never answers would hold the negotiation forever.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	s, err := xmpp.NewSession(ctx, account.Domain(), account, conn, state, xmpp.NewNegotiator(
		func(*xmpp.Session, *xmpp.StreamConfig) xmpp.StreamConfig {
			return xmpp.StreamConfig{Features: features}
		}))
	if !stop() {
		if err == nil {
			s.Close()
		}
		return nil, fmt.Errorf("log in as %s at %s: %w", account, cfg.serverName(), ctx.Err())
	}
	if err != nil {
		conn.Close()
		if isAuthFailure(err) {
			return nil, fmt.Errorf("log in as %s: %w: %v", account, ErrAuth, err)
		}
		return nil, fmt.Errorf("log in as %s at %s: %w", account, cfg.serverName(), err)
	}
	if got := s.LocalAddr().Resourcepart(); got != cfg.Resource {
		s.Close()
		s.Conn().Close()
		return nil, fmt.Errorf("server bound resource %q instead of %q", got, cfg.Resource)
	}
	return s, nil
}

// Default ports, when the domain has no SRV records (RFC 6120 §3.2.2 and,
// for direct TLS, the port XEP-0368 servers customarily use).
const (
	defaultPort          = "5222"
	defaultDirectTLSPort = "5223"
)

// connect opens the connection, with TLS already on for "direct": to
// cfg.Server, or else to the addresses of the domain's SRV records
// (_xmpps-client for direct TLS, _xmpp-client otherwise) in their order,
// or else to the domain on the default port.
func (cfg DialConfig) connect(ctx context.Context, tlsCfg *tls.Config) (net.Conn, error) {
	addrs := []string{cfg.Server}
	if cfg.Server == "" {
		var err error
		if addrs, err = cfg.lookup(ctx); err != nil {
			return nil, err
		}
	}
	d := net.Dialer{Resolver: cfg.Resolver}
	var errs []error
	for _, addr := range addrs {
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err == nil && cfg.TLS == "direct" {
			tc := tls.Client(conn, tlsCfg)
			if err = tc.HandshakeContext(ctx); err != nil {
				conn.Close()
			}
			conn = tc
		}
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("dial %s: %w", cfg.serverName(), errors.Join(errs...))
}

// lookup returns the addresses to try for the domain of cfg.JID. A
// failed lookup counts as no records: the domain's default port is
// tried.
func (cfg DialConfig) lookup(ctx context.Context) ([]string, error) {
	domain := cfg.JID.Domainpart()
	service, port := "xmpp-client", defaultPort
	if cfg.TLS == "direct" {
		service, port = "xmpps-client", defaultDirectTLSPort
	}
	r := cfg.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	var addrs []string
	_, srvs, err := r.LookupSRV(ctx, service, "tcp", domain)
	for _, srv := range srvs {
		if srv.Target == "." {
			return nil, fmt.Errorf("dial %s: its SRV record says it offers no %s service", domain, service)
		}
		addrs = append(addrs, net.JoinHostPort(strings.TrimSuffix(srv.Target, "."), strconv.Itoa(int(srv.Port))))
	}
	if len(addrs) == 0 {
		if err != nil {
			cfg.Logger.Debug("no SRV records: trying the default port", "domain", domain, "service", service, "err", err)
		}
		addrs = append(addrs, net.JoinHostPort(domain, port))
	}
	return addrs, nil
}

// tlsConfig builds the client TLS configuration.
func (cfg DialConfig) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{ServerName: cfg.JID.Domainpart(), MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s: no PEM certificate found", cfg.CAFile)
		}
		tc.RootCAs = pool
	}
	if cfg.InsecureSkipVerify {
		cfg.Logger.Warn("insecure_skip_verify is set: the server's certificate is not checked (tests only)")
		tc.InsecureSkipVerify = true
	}
	return tc, nil
}

func (cfg DialConfig) serverName() string {
	if cfg.Server != "" {
		return cfg.Server
	}
	return cfg.JID.Domainpart()
}

// IsLoopback reports whether the host of hostport is localhost,
// 127.0.0.0/8 or ::1.
func IsLoopback(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// dial logs the bot in with its configuration.
func (b *Bot) dial(ctx context.Context) (*xmpp.Session, error) {
	return Dial(ctx, DialConfig{
		JID:                b.cfg.JID,
		Password:           b.cfg.Password,
		Server:             b.cfg.Server,
		Resource:           b.cfg.Resource,
		TLS:                b.cfg.TLS,
		CAFile:             b.cfg.CAFile,
		InsecureSkipVerify: b.cfg.InsecureSkipVerify,
		Logger:             b.log,
	})
}

// isAuthFailure reports whether err is a SASL failure that retrying with
// the same credentials cannot fix: any SASL condition but
// temporary-auth-failure and aborted, or no usable mechanism.
func isAuthFailure(err error) bool {
	if strings.Contains(err.Error(), "no matching SASL mechanisms") {
		return true
	}
	cond, ok := saslCondition(err)
	return ok && cond != "temporary-auth-failure" && cond != "aborted"
}

// saslCondition finds the SASL <failure/> in err's chain (mellium's type
// for it is internal, but it marshals itself) and returns its condition.
func saslCondition(err error) (string, bool) {
	var m interface {
		error
		TokenReader() xml.TokenReader
	}
	if !errors.As(err, &m) {
		return "", false
	}
	r := m.TokenReader()
	tok, e := r.Token()
	start, ok := tok.(xml.StartElement)
	if e != nil || !ok || start.Name.Space != nsSASL || start.Name.Local != "failure" {
		return "", false
	}
	tok, _ = r.Token()
	if cond, ok := tok.(xml.StartElement); ok {
		return cond.Name.Local, true
	}
	return "", true
}

const nsSASL = "urn:ietf:params:xml:ns:xmpp-sasl"

// isConflict reports whether err is the stream error conflict: another
// session bound our resource.
func isConflict(err error) bool {
	var se stream.Error
	return errors.As(err, &se) && se.Err == stream.Conflict.Err
}
