package commands

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"maps"
	"slices"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/stanza"
)

// NS is the ad-hoc commands namespace (XEP-0050), also the disco node
// that lists the commands.
const NS = "http://jabber.org/protocol/commands"

// The XEP-0050 actions.
const (
	ActionExecute  = "execute"
	ActionNext     = "next"
	ActionPrev     = "prev"
	ActionComplete = "complete"
	ActionCancel   = "cancel"
)

// Request is a decoded <command xmlns='http://jabber.org/protocol/commands'/>
// payload of an IQ set.
type Request struct {
	Node, SessionID, Action string
	Form                    *Submission // the submitted data form, if any
	err                     error       // the payload was malformed
}

type xCommand struct {
	XMLName   xml.Name `xml:"http://jabber.org/protocol/commands command"`
	Node      string   `xml:"node,attr"`
	SessionID string   `xml:"sessionid,attr"`
	Action    string   `xml:"action,attr"`
}

// ReadRequest reads a <command/> element from r, whose first token is its
// start element. It reads only that element and is cheap: a bot calls it
// inside its mux handler and hands the Request to Execute on another
// goroutine. A malformed payload gives a Request that Execute answers
// with bad-request.
func ReadRequest(r xml.TokenReader) Request {
	d := xml.NewTokenDecoder(r)
	var req Request
	for {
		tok, err := d.Token()
		if err != nil {
			return Request{err: fmt.Errorf("read command: %w", err)}
		}
		start, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if start.Name.Space != NS || start.Name.Local != "command" {
			return Request{err: fmt.Errorf("read command: unexpected element %s", start.Name.Local)}
		}
		for _, a := range start.Attr {
			switch a.Name.Local {
			case "node":
				req.Node = a.Value
			case "sessionid":
				req.SessionID = a.Value
			case "action":
				req.Action = a.Value
			}
		}
		break
	}
	for {
		tok, err := d.Token()
		if err != nil {
			return Request{err: fmt.Errorf("read command: %w", err)}
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return req
		case xml.StartElement:
			if t.Name.Space == NSData && t.Name.Local == "x" && req.Form == nil {
				sub, err := DecodeSubmit(xmlstream.MultiReader(xmlstream.Token(t), d))
				if err != nil {
					return Request{err: err}
				}
				req.Form = &sub
				continue
			}
			if err := d.Skip(); err != nil {
				return Request{err: fmt.Errorf("read command: %w", err)}
			}
		}
	}
}

// HandleIQ answers the IQ set iq whose <command/> payload r holds (first
// token: its start element) and returns the complete reply IQ, a result
// or an error, with To and From swapped. iq.From must be the requester's
// full JID. It may block on the hook registry: never call it on the
// mellium Serve loop; call ReadRequest there and Execute elsewhere.
func (s *Server) HandleIQ(ctx context.Context, iq stanza.IQ, r xml.TokenReader) xml.TokenReader {
	return s.Execute(ctx, iq, ReadRequest(r))
}

// cmdError is an XEP-0050 error: a stanza error with an optional
// application condition from NS.
type cmdError struct {
	typ  stanza.ErrorType
	cond stanza.Condition
	app  string
	text string
}

var (
	errBadSessionID   = cmdError{stanza.Modify, stanza.BadRequest, "bad-sessionid", "unknown session"}
	errSessionExpired = cmdError{stanza.Cancel, stanza.NotAllowed, "session-expired", "the session has ended or expired"}
	errBadAction      = cmdError{stanza.Modify, stanza.BadRequest, "bad-action", "this stage does not offer that action"}
	errMalformed      = cmdError{stanza.Modify, stanza.BadRequest, "malformed-action", "unknown action"}
	errNoCommand      = cmdError{stanza.Cancel, stanza.ItemNotFound, "", "no such command"}
	errForbidden      = cmdError{stanza.Auth, stanza.Forbidden, "", "you may not run this command"}
	errTooMany        = cmdError{stanza.Wait, stanza.ResourceConstraint, "", "too many open sessions"}
	errBadRequest     = cmdError{stanza.Modify, stanza.BadRequest, "", "malformed command"}
)

func errorIQ(iq stanza.IQ, e cmdError) xml.TokenReader {
	reply := stanza.IQ{XMLName: iq.XMLName, ID: iq.ID, To: iq.From, From: iq.To, Type: stanza.ErrorIQ}
	var app xml.TokenReader
	if e.app != "" {
		app = elem(NS, e.app, nil)
	}
	se := stanza.Error{Type: e.typ, Condition: e.cond, Text: map[string]string{"": e.text}}
	return reply.Wrap(se.Wrap(app))
}

// note is an XEP-0050 note.
type note struct {
	typ, text string // typ: info, warn or error
}

// response is the <command/> of a result IQ.
type response struct {
	node, sessionID, status string
	actions                 []string // offered; the first is execute
	notes                   []note
	form                    xml.TokenReader
}

func resultIQ(iq stanza.IQ, r response) xml.TokenReader {
	var kids []xml.TokenReader
	if len(r.actions) > 0 {
		acts := make([]xml.TokenReader, len(r.actions))
		for i, a := range r.actions {
			acts[i] = elem("", a, nil)
		}
		kids = append(kids, elem("", "actions", []xml.Attr{attr("execute", r.actions[0])}, acts...))
	}
	for _, n := range r.notes {
		kids = append(kids, elem("", "note", []xml.Attr{attr("type", n.typ)}, xmlstream.Token(xml.CharData(n.text))))
	}
	if r.form != nil {
		kids = append(kids, r.form)
	}
	cmd := elem(NS, "command", []xml.Attr{
		attr("node", r.node), attr("sessionid", r.sessionID), attr("status", r.status),
	}, kids...)
	reply := stanza.IQ{XMLName: iq.XMLName, ID: iq.ID, To: iq.From, From: iq.To, Type: stanza.ResultIQ}
	return reply.Wrap(cmd)
}

// stageActions returns the actions stage i of c offers, the default
// (execute) first. cancel is always allowed and not listed.
func stageActions(c *Command, i int) []string {
	acts := []string{ActionComplete}
	if i < len(c.Stages)-1 {
		acts[0] = ActionNext
	}
	if i > 0 {
		acts = append(acts, ActionPrev)
	}
	return acts
}

// Execute answers req, sent in iq by iq.From (the requester's full JID),
// and returns the complete reply IQ. It is safe to call concurrently.
func (s *Server) Execute(ctx context.Context, iq stanza.IQ, req Request) xml.TokenReader {
	if req.err != nil {
		return errorIQ(iq, errBadRequest)
	}
	switch req.Action {
	case "", ActionExecute, ActionNext, ActionPrev, ActionComplete, ActionCancel:
	default:
		return errorIQ(iq, errMalformed)
	}
	if req.Form != nil && req.Form.Type == "cancel" {
		req.Action = ActionCancel
	}
	c := s.command(req.Node)
	if c == nil {
		return errorIQ(iq, errNoCommand)
	}
	e := s.env(iq.From)
	if !c.Allowed(e) {
		return errorIQ(iq, errForbidden)
	}
	owner := iq.From.String()

	if req.SessionID == "" {
		if req.Action != "" && req.Action != ActionExecute {
			return errorIQ(iq, errBadAction)
		}
		ss, ok := s.open(c, owner, e.Req.Bare)
		if !ok {
			return errorIQ(iq, errTooMany)
		}
		if len(c.Stages) == 0 {
			return s.run(ctx, iq, e, ss, nil)
		}
		return s.stage(iq, e, ss, 0, ss.raw, nil)
	}

	ss, state := s.lookup(req.SessionID, owner)
	switch {
	case state == sessionEnded:
		return errorIQ(iq, errSessionExpired)
	case state == sessionUnknown || ss.cmd != c:
		return errorIQ(iq, errBadSessionID)
	}
	if req.Action == ActionCancel {
		s.end(ss.id, owner)
		return resultIQ(iq, response{node: c.Node, sessionID: ss.id, status: "canceled"})
	}
	offered := stageActions(c, ss.stage)
	action := req.Action
	if action == "" || action == ActionExecute {
		action = offered[0]
	}
	if !slices.Contains(offered, action) {
		return errorIQ(iq, errBadAction)
	}

	// A submission replaces the values of this stage's fields, kept as
	// sent; the other stages' values stay.
	raw := maps.Clone(ss.raw)
	if req.Form != nil {
		for _, f := range c.Stages[ss.stage].Fields {
			delete(raw, f.Var)
			if vs, ok := req.Form.Values[f.Var]; ok {
				raw[f.Var] = vs
			}
		}
	}
	if action == ActionPrev {
		return s.stage(iq, e, ss, ss.stage-1, raw, nil)
	}
	if _, err := validate(e, c.Stages[ss.stage].Fields, raw); err != nil {
		return s.stage(iq, e, ss, ss.stage, raw, err)
	}
	if action == ActionNext {
		return s.stage(iq, e, ss, ss.stage+1, raw, nil)
	}
	return s.run(ctx, iq, e, ss, raw)
}

// stage sends stage i of the session's command with the values kept in
// raw (or the defaults) and, if err is set, an error note.
func (s *Server) stage(iq stanza.IQ, e Env, ss session, i int, raw map[string][]string, err error) xml.TokenReader {
	s.save(ss.id, i, raw)
	st := ss.cmd.Stages[i]
	fields := make([]formField, len(st.Fields))
	for j, f := range st.Fields {
		ff := formField{Var: f.Var, Type: f.Type, Label: f.Label, Required: f.Required}
		if vs, ok := raw[f.Var]; ok {
			ff.Values = vs
		} else if f.Default != nil {
			ff.Values = f.Default(e)
		}
		if f.Options != nil {
			ff.Options = f.Options(e)
		}
		fields[j] = ff
	}
	r := response{
		node:      ss.cmd.Node,
		sessionID: ss.id,
		status:    "executing",
		actions:   stageActions(ss.cmd, i),
		form:      formXML("form", st.Title, st.Instructions, fields),
	}
	if err != nil {
		r.notes = []note{{"error", err.Error()}}
	}
	return resultIQ(iq, r)
}

// run validates every stage's values and runs the command. A user error
// re-sends the last stage; any other outcome ends the session.
func (s *Server) run(ctx context.Context, iq stanza.IQ, e Env, ss session, raw map[string][]string) xml.TokenReader {
	c := ss.cmd
	v, err := validate(e, c.fields(), raw)
	var res Result
	if err == nil {
		res, err = c.Run(ctx, e, v)
	}
	var uerr *UserError
	if errors.As(err, &uerr) && len(c.Stages) > 0 {
		return s.stage(iq, e, ss, len(c.Stages)-1, raw, err)
	}
	s.end(ss.id, ss.owner)
	r := response{node: c.Node, sessionID: ss.id, status: "completed"}
	if err != nil {
		s.log.Warn("command failed", "node", c.Node, "requester", ss.owner, "err", err)
		r.notes = []note{{"error", err.Error()}}
		return resultIQ(iq, r)
	}
	if res.Note != "" {
		r.notes = []note{{"info", res.Note}}
	}
	switch {
	case res.Hook != nil:
		r.form = hookForm(*res.Hook)
	case res.List:
		r.form = hookTable(res.Table)
	}
	return resultIQ(iq, r)
}
