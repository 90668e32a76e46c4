package commands

import (
	"encoding/xml"
	"errors"
	"fmt"
	"strings"

	"mellium.im/xmlstream"

	"hookbot/hooks"
)

// NSData is the data forms namespace (XEP-0004).
const NSData = "jabber:x:data"

// formField is a field as written in a form.
type formField struct {
	Var      string
	Type     FieldType
	Label    string
	Required bool
	Values   []string
	Options  []Choice
}

// elem returns an element named local (in the parent's namespace, or in
// space when it is not empty) around children.
func elem(space, local string, attrs []xml.Attr, children ...xml.TokenReader) xml.TokenReader {
	return xmlstream.Wrap(xmlstream.MultiReader(children...), xml.StartElement{
		Name: xml.Name{Space: space, Local: local},
		Attr: attrs,
	})
}

func attr(name, value string) xml.Attr {
	return xml.Attr{Name: xml.Name{Local: name}, Value: value}
}

func text(local, s string) xml.TokenReader {
	return elem("", local, nil, xmlstream.Token(xml.CharData(s)))
}

// lines splits a text-multi value into one value per line (XEP-0004).
func lines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
}

// fieldXML writes one field. A text-multi value is written one line per
// <value/>.
func fieldXML(f formField, withValues bool) xml.TokenReader {
	attrs := []xml.Attr{attr("var", f.Var)}
	if f.Type != "" {
		attrs = append(attrs, attr("type", string(f.Type)))
	}
	if f.Label != "" {
		attrs = append(attrs, attr("label", f.Label))
	}
	var kids []xml.TokenReader
	if f.Required {
		kids = append(kids, elem("", "required", nil))
	}
	if withValues {
		for _, v := range f.Values {
			if f.Type == TextMulti {
				for _, l := range lines(v) {
					kids = append(kids, text("value", l))
				}
				continue
			}
			kids = append(kids, text("value", v))
		}
	}
	for _, o := range f.Options {
		var a []xml.Attr
		if o.Label != "" {
			a = []xml.Attr{attr("label", o.Label)}
		}
		kids = append(kids, elem("", "option", a, text("value", o.Value)))
	}
	return elem("", "field", attrs, kids...)
}

// formXML writes a data form of type typ ("form" or "result").
func formXML(typ, title, instructions string, fields []formField) xml.TokenReader {
	var kids []xml.TokenReader
	if title != "" {
		kids = append(kids, text("title", title))
	}
	if instructions != "" {
		kids = append(kids, text("instructions", instructions))
	}
	for _, f := range fields {
		kids = append(kids, fieldXML(f, true))
	}
	return elem(NSData, "x", []xml.Attr{attr("type", typ)}, kids...)
}

// hookColumns are the fields of a hook in result forms and tables.
var hookColumns = []formField{
	{Var: "id", Type: TextSingle, Label: "ID"},
	{Var: "owner", Type: JIDSingle, Label: "Owner"},
	{Var: "service", Type: JIDSingle, Label: "Service"},
	{Var: "node", Type: TextSingle, Label: "Node"},
	{Var: "type", Type: TextSingle, Label: "Type"},
	{Var: "arg", Type: TextMulti, Label: "Arg"},
	{Var: "persistent", Type: Boolean, Label: "Persistent"},
	{Var: "events", Type: TextMulti, Label: "Events"},
	{Var: "state", Type: TextSingle, Label: "State"},
}

// hookValues returns the values of h for hookColumns, in order.
func hookValues(h hooks.Hook) [][]string {
	persistent := "0"
	if h.Persistent {
		persistent = "1"
	}
	return [][]string{
		{h.ID}, {h.Owner}, {h.Service}, {h.Node}, {string(h.Type)},
		{h.Arg}, {persistent}, {strings.Join(h.Events, "\n")}, {h.State},
	}
}

// hookForm writes h as a result form.
func hookForm(h hooks.Hook) xml.TokenReader {
	vals := hookValues(h)
	fields := make([]formField, len(hookColumns))
	for i, c := range hookColumns {
		c.Values = vals[i]
		fields[i] = c
	}
	return formXML("result", "Hook "+h.ID, "", fields)
}

// hookTable writes hs as a result table: one <reported/>, then one <item/>
// per hook carrying every reported field (with an empty <value/> when the
// value is empty).
func hookTable(hs []hooks.Hook) xml.TokenReader {
	cols := make([]xml.TokenReader, len(hookColumns))
	for i, c := range hookColumns {
		cols[i] = fieldXML(c, false)
	}
	kids := []xml.TokenReader{text("title", "Hooks"), elem("", "reported", nil, cols...)}
	for _, h := range hs {
		vals := hookValues(h)
		fields := make([]xml.TokenReader, len(hookColumns))
		for i, c := range hookColumns {
			var vs []xml.TokenReader
			for _, v := range vals[i] {
				if c.Type == TextMulti && v != "" {
					for _, l := range lines(v) {
						vs = append(vs, text("value", l))
					}
					continue
				}
				vs = append(vs, text("value", v))
			}
			fields[i] = elem("", "field", []xml.Attr{attr("var", c.Var)}, vs...)
		}
		kids = append(kids, elem("", "item", nil, fields...))
	}
	return elem(NSData, "x", []xml.Attr{attr("type", "result")}, kids...)
}

// Submission is a data form as a requester sent it.
type Submission struct {
	Type   string              // "submit", "cancel", …
	Values map[string][]string // raw values by var, in order
}

type xSubmit struct {
	XMLName xml.Name `xml:"jabber:x:data x"`
	Type    string   `xml:"type,attr"`
	Fields  []struct {
		Var    string   `xml:"var,attr"`
		Values []string `xml:"value"`
	} `xml:"field"`
}

// errNoVar is returned for a submitted field without a var.
var errNoVar = errors.New("form field without var")

// DecodeSubmit decodes a <x xmlns='jabber:x:data'/> element from r (whose
// first token is its start element) into raw values. It reads values
// whatever the field's type, as Raw() would: the types come from the
// command's own schema.
func DecodeSubmit(r xml.TokenReader) (Submission, error) {
	var x xSubmit
	if err := xml.NewTokenDecoder(r).Decode(&x); err != nil {
		return Submission{}, fmt.Errorf("decode data form: %w", err)
	}
	s := Submission{Type: x.Type, Values: make(map[string][]string)}
	for _, f := range x.Fields {
		if f.Var == "" {
			return Submission{}, errNoVar
		}
		s.Values[f.Var] = append(s.Values[f.Var], f.Values...)
	}
	return s, nil
}
