package bot

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"mellium.im/sasl"
	"mellium.im/xmpp"
	"mellium.im/xmpp/dial"
	"mellium.im/xmpp/stream"

	"hookbot/internal/bind"
)

// tlsConfig builds the client TLS configuration from the Config.
func (b *Bot) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{ServerName: b.cfg.JID.Domainpart(), MinVersion: tls.VersionTLS12}
	if b.cfg.CAFile != "" {
		pem, err := os.ReadFile(b.cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s: no PEM certificate found", b.cfg.CAFile)
		}
		cfg.RootCAs = pool
	}
	if b.cfg.InsecureSkipVerify {
		b.log.Warn("insecure_skip_verify is set: the server's certificate is not checked (tests only)")
		cfg.InsecureSkipVerify = true
	}
	return cfg, nil
}

// dial connects, negotiates TLS and SASL and binds the resource.
func (b *Bot) dial(ctx context.Context) (*xmpp.Session, error) {
	tlsCfg, err := b.tlsConfig()
	if err != nil {
		return nil, err
	}
	var conn net.Conn
	switch {
	case b.cfg.Server == "":
		d := dial.Dialer{NoTLS: b.cfg.TLS != "direct", TLSConfig: tlsCfg}
		conn, err = d.Dial(ctx, "tcp", b.cfg.JID)
	default:
		var d net.Dialer
		conn, err = d.DialContext(ctx, "tcp", b.cfg.Server)
		if err == nil && b.cfg.TLS == "direct" {
			tc := tls.Client(conn, tlsCfg)
			if err = tc.HandshakeContext(ctx); err != nil {
				conn.Close()
			}
			conn = tc
		}
	}
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", b.serverName(), err)
	}

	mechs := []sasl.Mechanism{sasl.ScramSha256Plus, sasl.ScramSha1Plus, sasl.ScramSha256, sasl.ScramSha1}
	var features []xmpp.StreamFeature
	switch b.cfg.TLS {
	case "starttls":
		features = append(features, xmpp.StartTLS(tlsCfg))
		mechs = append(mechs, sasl.Plain) // mellium tries SASL only on a secure stream
	case "direct":
		mechs = append(mechs, sasl.Plain)
	}
	features = append(features,
		xmpp.SASL("", b.cfg.Password, mechs...),
		bind.Resource(b.cfg.Resource),
	)
	var state xmpp.SessionState
	if b.cfg.TLS == "none" {
		// Plain text on loopback only (the configuration refuses it
		// elsewhere): let SASL run, which mellium does only on a secure
		// stream. PLAIN stays off.
		state = xmpp.Secure
	}
	s, err := xmpp.NewSession(ctx, b.cfg.JID.Domain(), b.cfg.JID, conn, state, xmpp.NewNegotiator(
		func(*xmpp.Session, *xmpp.StreamConfig) xmpp.StreamConfig {
			return xmpp.StreamConfig{Features: features}
		}))
	if err != nil {
		conn.Close()
		if isAuthFailure(err) {
			return nil, fmt.Errorf("log in as %s: %w: %v", b.cfg.JID, ErrAuth, err)
		}
		return nil, fmt.Errorf("log in as %s at %s: %w", b.cfg.JID, b.serverName(), err)
	}
	if got := s.LocalAddr().Resourcepart(); got != b.cfg.Resource {
		s.Close()
		s.Conn().Close()
		return nil, fmt.Errorf("server bound resource %q instead of %q", got, b.cfg.Resource)
	}
	return s, nil
}

func (b *Bot) serverName() string {
	if b.cfg.Server != "" {
		return b.cfg.Server
	}
	return b.cfg.JID.Domainpart()
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
