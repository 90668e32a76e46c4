// Package adhoc is the requester side of XEP-0050 ad-hoc commands: list a
// responder's commands, execute one, submit its forms and read the notes,
// forms and result tables it answers with.
//
// mellium's commands package leaks the reply of an IQ error and cannot read
// result tables (see NOTES.md), so this package decodes replies itself.
package adhoc

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// Namespaces used by XEP-0050 and XEP-0004.
const (
	NS     = "http://jabber.org/protocol/commands"
	NSData = "jabber:x:data"
)

// Actions a requester may ask for.
const (
	Execute  = "execute"
	Next     = "next"
	Prev     = "prev"
	Complete = "complete"
	Cancel   = "cancel"
)

// Field is a data form field, as sent or as received.
type Field struct {
	Var      string    `xml:"var,attr,omitempty"`
	Type     string    `xml:"type,attr,omitempty"`
	Label    string    `xml:"label,attr,omitempty"`
	Required *struct{} `xml:"required"`
	Values   []string  `xml:"value"`
	Options  []Option  `xml:"option"`
}

// Option is one choice of a list field.
type Option struct {
	Label string `xml:"label,attr,omitempty"`
	Value string `xml:"value"`
}

// Row is one item of a result table.
type Row struct {
	Fields []Field `xml:"field"`
}

// Form is a XEP-0004 data form, possibly a result table.
type Form struct {
	Type         string   `xml:"type,attr"`
	Title        string   `xml:"title"`
	Instructions []string `xml:"instructions"`
	Fields       []Field  `xml:"field"`
	Reported     []Row    `xml:"reported"`
	Items        []Row    `xml:"item"`
}

// Field returns the field with var name, if the form has one.
func (f *Form) Field(name string) (Field, bool) {
	if f == nil {
		return Field{}, false
	}
	for _, field := range f.Fields {
		if field.Var == name {
			return field, true
		}
	}
	return Field{}, false
}

// Value returns the first value of field name, or "".
func (f *Form) Value(name string) string {
	field, _ := f.Field(name)
	if len(field.Values) == 0 {
		return ""
	}
	return field.Values[0]
}

// Table returns a result table's rows as maps from var to values, and the
// reported vars in order.
func (f *Form) Table() (columns []string, rows []map[string][]string) {
	if f == nil {
		return nil, nil
	}
	for _, rep := range f.Reported {
		for _, field := range rep.Fields {
			columns = append(columns, field.Var)
		}
	}
	for _, item := range f.Items {
		row := make(map[string][]string, len(item.Fields))
		for _, field := range item.Fields {
			row[field.Var] = field.Values
		}
		rows = append(rows, row)
	}
	return columns, rows
}

// Note is a note of a command reply.
type Note struct {
	Type string `xml:"type,attr"`
	Text string `xml:",chardata"`
}

// Response is a responder's answer to one command request.
type Response struct {
	Node      string
	SessionID string
	Status    string   // "executing", "completed" or "canceled"
	Actions   []string // offered actions
	Execute   string   // the default action, from <actions execute='…'>
	Notes     []Note
	Form      *Form
}

// NoteText returns the text of the notes of type typ, joined by newlines.
func (r *Response) NoteText(typ string) string {
	var texts []string
	for _, n := range r.Notes {
		if n.Type == typ || (typ == "info" && n.Type == "") {
			texts = append(texts, n.Text)
		}
	}
	return strings.Join(texts, "\n")
}

// Error is an IQ error reply, with the XEP-0050 condition (bad-sessionid,
// session-expired, bad-action, …) when the responder gave one.
type Error struct {
	Type      string // cancel, modify, auth, wait
	Condition string // RFC 6120 condition
	App       string // application-specific condition, or ""
	Text      string
}

func (e *Error) Error() string {
	msg := e.Condition
	if e.App != "" {
		msg += "/" + e.App
	}
	if e.Text != "" {
		msg += ": " + e.Text
	}
	return msg
}

// Is reports whether target is a stanza.Error with the same condition.
func (e *Error) Is(target error) bool {
	var se stanza.Error
	if errors.As(target, &se) {
		return string(se.Condition) == e.Condition
	}
	return false
}

// Request is one command request.
type Request struct {
	Node      string
	SessionID string
	Action    string  // "" means execute
	Submit    []Field // the fields of a submitted form, if any
}

// Send sends req to the responder to and decodes its reply.
func Send(ctx context.Context, s *xmpp.Session, to jid.JID, req Request) (*Response, error) {
	attrs := []xml.Attr{{Name: xml.Name{Local: "node"}, Value: req.Node}}
	if req.SessionID != "" {
		attrs = append(attrs, xml.Attr{Name: xml.Name{Local: "sessionid"}, Value: req.SessionID})
	}
	action := req.Action
	if action == "" {
		action = Execute
	}
	attrs = append(attrs, xml.Attr{Name: xml.Name{Local: "action"}, Value: action})
	var payload xml.TokenReader
	if req.Submit != nil {
		payload = submitForm(req.Submit)
	}
	cmd := xmlstream.Wrap(payload, xml.StartElement{Name: xml.Name{Space: NS, Local: "command"}, Attr: attrs})
	iq := stanza.IQ{To: to, Type: stanza.SetIQ}
	r, err := s.SendIQElement(ctx, cmd, iq)
	if err != nil {
		return nil, fmt.Errorf("command %s: %w", req.Node, err)
	}
	defer r.Close()
	resp, err := decodeReply(r)
	if err != nil {
		return nil, fmt.Errorf("command %s: %w", req.Node, err)
	}
	return resp, nil
}

// decodeReply decodes the IQ reply to a command request.
func decodeReply(r xml.TokenReader) (*Response, error) {
	var reply struct {
		Type    string `xml:"type,attr"`
		Command *struct {
			Node      string `xml:"node,attr"`
			SessionID string `xml:"sessionid,attr"`
			Status    string `xml:"status,attr"`
			Actions   *struct {
				Execute string `xml:"execute,attr"`
				List    []struct {
					XMLName xml.Name
				} `xml:",any"`
			} `xml:"actions"`
			Notes []Note `xml:"note"`
			Form  *Form  `xml:"jabber:x:data x"`
		} `xml:"http://jabber.org/protocol/commands command"`
		Error *struct {
			Type  string `xml:"type,attr"`
			Conds []struct {
				XMLName xml.Name
			} `xml:",any"`
			Text string `xml:"urn:ietf:params:xml:ns:xmpp-stanzas text"`
		} `xml:"error"`
	}
	if err := xml.NewTokenDecoder(r).Decode(&reply); err != nil {
		return nil, fmt.Errorf("decode reply: %w", err)
	}
	if reply.Type == string(stanza.ErrorIQ) {
		e := &Error{}
		if reply.Error != nil {
			e.Type = reply.Error.Type
			e.Text = reply.Error.Text
			for _, c := range reply.Error.Conds {
				switch {
				case c.XMLName.Space == stanza.NSError && c.XMLName.Local != "text":
					e.Condition = c.XMLName.Local
				case c.XMLName.Space != stanza.NSError:
					e.App = c.XMLName.Local
				}
			}
		}
		return nil, e
	}
	if reply.Command == nil {
		return nil, errors.New("reply has no command element")
	}
	c := reply.Command
	resp := &Response{Node: c.Node, SessionID: c.SessionID, Status: c.Status, Notes: c.Notes, Form: c.Form}
	if c.Actions != nil {
		resp.Execute = c.Actions.Execute
		for _, a := range c.Actions.List {
			resp.Actions = append(resp.Actions, a.XMLName.Local)
		}
	}
	return resp, nil
}

// submitForm encodes fields as a form of type submit.
func submitForm(fields []Field) xml.TokenReader {
	var inner []xml.TokenReader
	for _, f := range fields {
		attrs := []xml.Attr{{Name: xml.Name{Local: "var"}, Value: f.Var}}
		if f.Type != "" {
			attrs = append(attrs, xml.Attr{Name: xml.Name{Local: "type"}, Value: f.Type})
		}
		var values []xml.TokenReader
		for _, v := range f.Values {
			values = append(values, xmlstream.Wrap(xmlstream.Token(xml.CharData(v)), xml.StartElement{Name: xml.Name{Local: "value"}}))
		}
		inner = append(inner, xmlstream.Wrap(xmlstream.MultiReader(values...), xml.StartElement{Name: xml.Name{Local: "field"}, Attr: attrs}))
	}
	return xmlstream.Wrap(xmlstream.MultiReader(inner...), xml.StartElement{
		Name: xml.Name{Space: NSData, Local: "x"},
		Attr: []xml.Attr{{Name: xml.Name{Local: "type"}, Value: "submit"}},
	})
}

// Item is one command a responder offers.
type Item struct {
	JID  string `xml:"jid,attr"`
	Node string `xml:"node,attr"`
	Name string `xml:"name,attr"`
}

// List returns the commands that to offers to this session's account.
func List(ctx context.Context, s *xmpp.Session, to jid.JID) ([]Item, error) {
	query := xmlstream.Wrap(nil, xml.StartElement{
		Name: xml.Name{Space: "http://jabber.org/protocol/disco#items", Local: "query"},
		Attr: []xml.Attr{{Name: xml.Name{Local: "node"}, Value: NS}},
	})
	var reply struct {
		Items []Item `xml:"item"`
	}
	err := s.UnmarshalIQElement(ctx, query, stanza.IQ{To: to, Type: stanza.GetIQ}, &reply)
	if err != nil {
		return nil, fmt.Errorf("list commands of %s: %w", to, err)
	}
	return reply.Items, nil
}
