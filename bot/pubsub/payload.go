package pubsub

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

const nsXML = "http://www.w3.org/XML/1998/namespace"

// maxDepth bounds the nesting of a payload, so hostile input cannot grow
// the namespace stack without limit.
const maxDepth = 256

// errUnbalanced reports tokens that do not form elements.
var errUnbalanced = errors.New("pubsub: unbalanced XML tokens")

// payloadWriter serializes decoded tokens back to XML text.
//
// Tokens from an xml.Decoder carry resolved namespaces in Name.Space and
// keep the original xmlns attributes as well; encoding them with an
// xml.Encoder duplicates the declarations and invents prefixes such as
// xmlns:_xmlns. payloadWriter instead drops every xmlns attribute and
// declares exactly what the names need: a default namespace (xmlns="…")
// wherever an element's namespace differs from its parent's, and a prefix
// for each namespaced attribute (reusing the prefix of the source when it
// is known). xml:lang and other xml: attributes keep the xml prefix.
// Comments, processing instructions and directives are dropped.
type payloadWriter struct {
	b     strings.Builder
	stack []scope
	gen   int
}

type scope struct {
	name     xml.Name
	defNS    string            // default namespace in force inside this element
	prefixes map[string]string // prefix → URI declared on this element
	srcNames map[string]string // URI → prefix declared by the source on this element
}

// defaultNS returns the default namespace in force at the current depth.
// The payload stands alone, so none is in force outside it.
func (w *payloadWriter) defaultNS() string {
	if len(w.stack) == 0 {
		return ""
	}
	return w.stack[len(w.stack)-1].defNS
}

// lookupPrefix returns a prefix already declared in the output for uri.
func (w *payloadWriter) lookupPrefix(uri string) (string, bool) {
	for i := len(w.stack) - 1; i >= 0; i-- {
		for p, u := range w.stack[i].prefixes {
			if u == uri && w.prefixURI(p) == uri {
				return p, true
			}
		}
	}
	return "", false
}

// prefixURI returns the URI bound to prefix p in the output, or "".
func (w *payloadWriter) prefixURI(p string) string {
	for i := len(w.stack) - 1; i >= 0; i-- {
		if u, ok := w.stack[i].prefixes[p]; ok {
			return u
		}
	}
	return ""
}

// sourcePrefix returns the prefix the source used for uri, if any.
func (w *payloadWriter) sourcePrefix(uri string) string {
	for i := len(w.stack) - 1; i >= 0; i-- {
		if p, ok := w.stack[i].srcNames[uri]; ok {
			return p
		}
	}
	return ""
}

func validPrefix(p string) bool {
	if p == "" || strings.HasPrefix(strings.ToLower(p), "xml") {
		return false
	}
	for i, r := range p {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r == '_':
		case i > 0 && (r >= '0' && r <= '9' || r == '-' || r == '.'):
		default:
			return false
		}
	}
	return true
}

func validName(n string) bool {
	if n == "" || strings.ContainsAny(n, ":") {
		return false
	}
	for i, r := range n {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r == '_', r > 0x7f && r != 0xFFFD && r != 0xFFFE && r != 0xFFFF:
		case i > 0 && (r >= '0' && r <= '9' || r == '-' || r == '.'):
		default:
			return false
		}
	}
	return true
}

// start writes a start element.
func (w *payloadWriter) start(se xml.StartElement) error {
	if len(w.stack) >= maxDepth {
		return fmt.Errorf("pubsub: payload nested deeper than %d elements", maxDepth)
	}
	if !validName(se.Name.Local) {
		return fmt.Errorf("pubsub: invalid element name %q", se.Name.Local)
	}
	sc := scope{name: se.Name, defNS: se.Name.Space}
	for _, a := range se.Attr {
		if a.Name.Space == "xmlns" && a.Value != "" {
			if sc.srcNames == nil {
				sc.srcNames = make(map[string]string)
			}
			if _, ok := sc.srcNames[a.Value]; !ok {
				sc.srcNames[a.Value] = a.Name.Local
			}
		}
	}
	parent := w.defaultNS()
	w.stack = append(w.stack, sc)
	top := &w.stack[len(w.stack)-1]

	w.b.WriteByte('<')
	w.b.WriteString(se.Name.Local)
	// A top-level element always declares its namespace, even the empty
	// one, so that the payload keeps its meaning when embedded in another
	// document.
	if se.Name.Space != parent || len(w.stack) == 1 {
		w.b.WriteString(` xmlns="`)
		escape(&w.b, se.Name.Space)
		w.b.WriteByte('"')
	}
	seen := make(map[xml.Name]bool, len(se.Attr))
	for _, a := range se.Attr {
		if a.Name.Space == "xmlns" || a.Name.Space == "" && a.Name.Local == "xmlns" {
			continue
		}
		if !validName(a.Name.Local) || seen[a.Name] {
			continue
		}
		seen[a.Name] = true
		w.b.WriteByte(' ')
		switch a.Name.Space {
		case "":
		case nsXML, "xml":
			w.b.WriteString("xml:")
		default:
			p, ok := w.lookupPrefix(a.Name.Space)
			if !ok {
				p = w.sourcePrefix(a.Name.Space)
				if !validPrefix(p) || w.prefixURI(p) != "" {
					w.gen++
					p = "ns" + strconv.Itoa(w.gen)
				}
				if top.prefixes == nil {
					top.prefixes = make(map[string]string)
				}
				top.prefixes[p] = a.Name.Space
				w.b.WriteString("xmlns:")
				w.b.WriteString(p)
				w.b.WriteString(`="`)
				escape(&w.b, a.Name.Space)
				w.b.WriteString(`" `)
			}
			w.b.WriteString(p)
			w.b.WriteByte(':')
		}
		w.b.WriteString(a.Name.Local)
		w.b.WriteString(`="`)
		escape(&w.b, a.Value)
		w.b.WriteByte('"')
	}
	w.b.WriteByte('>')
	return nil
}

func (w *payloadWriter) end(ee xml.EndElement) error {
	if len(w.stack) == 0 {
		return errUnbalanced
	}
	top := w.stack[len(w.stack)-1]
	if top.name.Local != ee.Name.Local {
		return errUnbalanced
	}
	w.stack = w.stack[:len(w.stack)-1]
	w.b.WriteString("</")
	w.b.WriteString(ee.Name.Local)
	w.b.WriteByte('>')
	return nil
}

func escape(b *strings.Builder, s string) {
	// xml.EscapeText never fails on a strings.Builder.
	_ = xml.EscapeText(b, []byte(s))
}

// readPayload reads the children of the element whose start token has just
// been read from r, up to and including its end token, and returns them
// serialized as well-formed XML that stands alone: each top-level element
// declares its namespace (xmlns="" for none).
// Whitespace between top-level children is dropped. hasElem reports
// whether the content held at least one element.
func readPayload(r xml.TokenReader) (payload string, hasElem bool, err error) {
	var w payloadWriter
	for {
		tok, err := r.Token()
		if tok == nil && err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return "", false, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(w.stack) == 0 {
				hasElem = true
			}
			if e := w.start(t); e != nil {
				return "", false, e
			}
		case xml.EndElement:
			if len(w.stack) == 0 {
				return w.b.String(), hasElem, nil
			}
			if e := w.end(t); e != nil {
				return "", false, e
			}
		case xml.CharData:
			if len(w.stack) == 0 && len(strings.TrimSpace(string(t))) == 0 {
				break
			}
			escape(&w.b, string(t))
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return "", false, err
		}
	}
}
