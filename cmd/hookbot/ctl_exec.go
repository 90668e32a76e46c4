package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/mux"
	"mellium.im/xmpp/stanza"

	"hookbot/bot"
	"hookbot/bot/adhoc"
	"hookbot/commands"
)

// defaultBotResource is the resource the bot binds unless configured
// otherwise; ctl falls back to it for a bare --bot.
const defaultBotResource = "hookbot"

// ctlError is a failure with its exit status.
type ctlError struct {
	code int
	err  error
}

func (e *ctlError) Error() string { return e.err.Error() }
func (e *ctlError) Unwrap() error { return e.err }

// execCtl logs in, finds the bot and runs req, writing the result to
// stdout and errors to stderr.
func execCtl(ctx context.Context, opts ctlOptions, req ctlRequest, cio ctlIO) int {
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	out, err := ctlSession(ctx, opts, req)
	if err != nil {
		code := ctlConn
		var ce *ctlError
		switch {
		case ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded):
			code = ctlTimeout
			err = fmt.Errorf("timed out after %v: %w", opts.Timeout, err)
		case errors.As(err, &ce):
			code = ce.code
		}
		fmt.Fprintf(cio.Stderr, "hookbot ctl: %v\n", err)
		return code
	}
	fmt.Fprintln(cio.Stdout, out)
	return ctlOK
}

// ctlSession runs req in a new session and returns what to print.
func ctlSession(ctx context.Context, opts ctlOptions, req ctlRequest) (string, error) {
	var suffix [4]byte
	rand.Read(suffix[:])
	s, err := bot.Dial(ctx, bot.DialConfig{
		JID:                opts.JID,
		Password:           opts.Password,
		Server:             opts.Server,
		Resource:           "hookbot-ctl-" + hex.EncodeToString(suffix[:]),
		TLS:                opts.TLS,
		CAFile:             opts.CAFile,
		InsecureSkipVerify: opts.InsecureSkipVerify,
		Logger:             slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return "", &ctlError{ctlConn, err}
	}

	// Presence of the bot's resources, sent by the server after our
	// initial presence when the account is subscribed to the bot.
	seen := make(chan jid.JID, 16)
	botBare := opts.Bot.Bare()
	onPresence := func(p stanza.Presence, _ xmlstream.TokenReadEncoder) error {
		if p.From.Bare().Equal(botBare) && p.From.Resourcepart() != "" {
			select {
			case seen <- p.From:
			default:
			}
		}
		return nil
	}
	m := mux.New(stanza.NSClient, mux.PresenceFunc(stanza.AvailablePresence, xml.Name{}, onPresence))
	served := make(chan error, 1)
	go func() { served <- s.Serve(m) }()
	defer func() {
		// End the stream, let the server close its side, then the socket.
		s.Close()
		select {
		case <-served:
		case <-time.After(time.Second):
		}
		s.Conn().Close()
	}()

	to := opts.Bot
	if to.Resourcepart() == "" {
		// Negative priority: messages to our bare JID do not come here.
		pres := stanza.Presence{}.Wrap(xmlstream.Wrap(xmlstream.Token(xml.CharData("-1")),
			xml.StartElement{Name: xml.Name{Local: "priority"}}))
		if err := s.Send(ctx, pres); err != nil {
			return "", &ctlError{ctlConn, fmt.Errorf("send presence: %w", err)}
		}
		to = findBot(ctx, s, botBare, seen)
	}
	return runHookCommand(ctx, s, to, req)
}

// findBot returns the full JID of the bot bare: the first of its
// resources whose presence arrives, else its default resource (tried
// with disco#info meanwhile).
func findBot(ctx context.Context, s *xmpp.Session, bare jid.JID, seen <-chan jid.JID) jid.JID {
	def, err := bare.WithResource(defaultBotResource)
	if err != nil {
		return bare
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	probed := make(chan error, 1)
	go func() {
		probed <- s.UnmarshalIQElement(pctx, xmlstream.Wrap(nil, xml.StartElement{
			Name: xml.Name{Space: "http://jabber.org/protocol/disco#info", Local: "query"},
		}), stanza.IQ{To: def, Type: stanza.GetIQ}, nil)
	}()
	select {
	case j := <-seen:
		return j
	case err := <-probed:
		if err == nil {
			return def
		}
	case <-ctx.Done():
		return def
	}
	// The default resource did not answer: a presence may still be on
	// its way (the server sends it right after our initial presence).
	select {
	case j := <-seen:
		return j
	case <-time.After(500 * time.Millisecond):
	case <-ctx.Done():
	}
	return def
}

// unreachable are the IQ error conditions that mean no bot answered.
var unreachable = []string{"service-unavailable", "recipient-unavailable", "remote-server-not-found", "remote-server-timeout", "item-not-found"}

// commandError classifies an adhoc.Send error: an IQ error from the bot
// is a refusal, unless it says that no bot is there.
func commandError(to jid.JID, err error) error {
	var ae *adhoc.Error
	if errors.As(err, &ae) {
		if slices.Contains(unreachable, ae.Condition) {
			return &ctlError{ctlConn, fmt.Errorf("bot %s is not reachable: %w", to, err)}
		}
		return &ctlError{ctlRefused, fmt.Errorf("the bot refused: %w", err)}
	}
	return err
}

// runHookCommand runs the ad-hoc command of req on the bot to and
// returns the result as ctl prints it.
func runHookCommand(ctx context.Context, s *xmpp.Session, to jid.JID, req ctlRequest) (string, error) {
	inv := req.Inv
	resp, err := adhoc.Send(ctx, s, to, adhoc.Request{Node: inv.Command})
	if err != nil {
		return "", commandError(to, err)
	}
	if resp.Status == "executing" {
		var fields []adhoc.Field
		for _, v := range submitOrder(inv.Values) {
			fields = append(fields, adhoc.Field{Var: v, Values: submitValues(inv.Values[v])})
		}
		action := adhoc.Complete
		if !slices.Contains(resp.Actions, adhoc.Complete) && resp.Execute != "" {
			action = resp.Execute
		}
		sid := resp.SessionID
		resp, err = adhoc.Send(ctx, s, to, adhoc.Request{Node: inv.Command, SessionID: sid, Action: action, Submit: fields})
		if err != nil {
			return "", commandError(to, err)
		}
		if resp.Status == "executing" {
			// The stage came back: the bot refused the values.
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			adhoc.Send(cctx, s, to, adhoc.Request{Node: inv.Command, SessionID: sid, Action: adhoc.Cancel})
			cancel()
			return "", &ctlError{ctlRefused, fmt.Errorf("the bot refused: %s", noteOr(resp, "error", "the form came back unaccepted"))}
		}
	}
	if resp.Status != "completed" {
		return "", &ctlError{ctlRefused, fmt.Errorf("the bot ended the command with status %q: %s", resp.Status, noteOr(resp, "error", "no note"))}
	}
	if note := resp.NoteText("error"); note != "" {
		return "", &ctlError{ctlRefused, fmt.Errorf("the bot refused: %s", note)}
	}
	switch inv.Command {
	case "create":
		id := resp.Form.Value("id")
		if id == "" {
			return "", &ctlError{ctlRefused, fmt.Errorf("the bot created no hook: %s", noteOr(resp, "info", "no note"))}
		}
		return fmt.Sprintf("Hook %s created", id), nil
	case "delete":
		var n int
		note := resp.NoteText("info")
		if _, err := fmt.Sscanf(note, "%d hook(s) deleted", &n); err != nil {
			return "", fmt.Errorf("delete: unexpected note %q", note)
		}
		return fmt.Sprintf("%d hook(s) have been deleted", n), nil
	default: // list
		_, rows := resp.Form.Table()
		entries := make([]commands.Entry, 0, len(rows))
		for _, row := range rows {
			e, err := commands.EntryFromFields(row)
			if err != nil {
				return "", fmt.Errorf("list: %w", err)
			}
			entries = append(entries, e)
		}
		if inv.Output == "json" {
			return commands.RenderJSON(entries, !req.Raw)
		}
		return commands.RenderSimple(entries), nil
	}
}

// submitOrder returns the vars of values in a stable order.
func submitOrder(values map[string][]string) []string {
	vars := make([]string, 0, len(values))
	for v := range values {
		vars = append(vars, v)
	}
	slices.Sort(vars)
	return vars
}

// submitValues splits multi-line values into one value per line, as
// XEP-0004 sends text-multi fields.
func submitValues(vals []string) []string {
	var out []string
	for _, v := range vals {
		out = append(out, strings.Split(v, "\n")...)
	}
	return out
}

// noteOr returns the notes of type typ, or def when there are none.
func noteOr(resp *adhoc.Response, typ, def string) string {
	if n := resp.NoteText(typ); n != "" {
		return n
	}
	return def
}
