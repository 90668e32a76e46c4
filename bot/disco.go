package bot

import (
	"crypto/sha1"
	"encoding/xml"
	"slices"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/disco"
	"mellium.im/xmpp/disco/info"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/ping"
	"mellium.im/xmpp/stanza"
)

// Disco namespaces and the caps node of hookbot (XEP-0030, XEP-0115).
const (
	nsDiscoInfo  = "http://jabber.org/protocol/disco#info"
	nsDiscoItems = "http://jabber.org/protocol/disco#items"
	CapsNode     = "https://hookbot.invalid/caps"
)

// Identity is the bot's disco identity.
var identity = info.Identity{Category: "client", Type: "bot", Name: "hookbot"}

// rootInfo returns the bot's disco#info (identity and sorted features).
func (b *Bot) rootInfo() disco.Info {
	b.mu.Lock()
	vars := append([]string{nsDiscoInfo, nsDiscoItems, disco.NSCaps, ping.NS}, b.features...)
	b.mu.Unlock()
	slices.Sort(vars)
	vars = slices.Compact(vars)
	in := disco.Info{Identity: []info.Identity{identity}}
	for _, v := range vars {
		in.Features = append(in.Features, info.Feature{Var: v})
	}
	return in
}

// CapsVer returns the XEP-0115 verification string of the bot's current
// disco#info.
func (b *Bot) CapsVer() string {
	return b.rootInfo().Hash(sha1.New())
}

// capsElement returns <c xmlns='http://jabber.org/protocol/caps'/> for
// presence.
func (b *Bot) capsElement() xml.TokenReader {
	return xmlstream.Wrap(nil, xml.StartElement{
		Name: xml.Name{Space: disco.NSCaps, Local: "c"},
		Attr: []xml.Attr{
			{Name: xml.Name{Local: "hash"}, Value: "sha-1"},
			{Name: xml.Name{Local: "node"}, Value: CapsNode},
			{Name: xml.Name{Local: "ver"}, Value: b.CapsVer()},
		},
	})
}

func nodeAttr(start *xml.StartElement) string {
	for _, a := range start.Attr {
		if a.Name.Local == "node" {
			return a.Value
		}
	}
	return ""
}

// handleDiscoInfo answers disco#info on the root, on the caps node and on
// the nodes of the DiscoNodes providers; other nodes are item-not-found.
func (b *Bot) handleDiscoInfo(iq stanza.IQ, t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	node := nodeAttr(start)
	var reply xml.TokenReader
	in := b.rootInfo()
	if node == "" || node == CapsNode+"#"+in.Hash(sha1.New()) {
		in.Node = node
		reply = iq.Result(in.TokenReader())
	} else if ids, fs, ok := b.nodeInfo(iq.From, node); ok {
		reply = iq.Result(disco.Info{InfoQuery: disco.InfoQuery{Node: node}, Identity: ids, Features: fs}.TokenReader())
	} else {
		reply = errorIQ(iq, stanza.Error{Type: stanza.Cancel, Condition: stanza.ItemNotFound})
	}
	if _, err := xmlstream.Copy(t, reply); err != nil {
		b.log.Warn("answer disco#info", "err", err)
	}
	return nil
}

func (b *Bot) nodeInfo(from jid.JID, node string) ([]info.Identity, []info.Feature, bool) {
	b.mu.Lock()
	nodes := slices.Clone(b.nodes)
	b.mu.Unlock()
	for _, p := range nodes {
		if ids, fs, ok := p.Info(from, node); ok {
			return ids, fs, true
		}
	}
	return nil, nil, false
}

// handleDiscoItems answers disco#items: the added items on the root, the
// providers' items on their nodes, item-not-found elsewhere.
func (b *Bot) handleDiscoItems(iq stanza.IQ, t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	node := nodeAttr(start)
	b.mu.Lock()
	list, nodes := slices.Clone(b.items), slices.Clone(b.nodes)
	b.mu.Unlock()
	found := node == ""
	if !found {
		list = nil
		for _, p := range nodes {
			if l, ok := p.Items(iq.From, node); ok {
				list, found = l, true
				break
			}
		}
	}
	var reply xml.TokenReader
	if !found {
		reply = errorIQ(iq, stanza.Error{Type: stanza.Cancel, Condition: stanza.ItemNotFound})
	} else {
		self := b.JID()
		var inner []xml.TokenReader
		for _, it := range list {
			if it.JID.Equal(jid.JID{}) {
				it.JID = self
			}
			inner = append(inner, it.TokenReader())
		}
		q := xml.StartElement{Name: xml.Name{Space: nsDiscoItems, Local: "query"}}
		if node != "" {
			q.Attr = []xml.Attr{{Name: xml.Name{Local: "node"}, Value: node}}
		}
		reply = iq.Result(xmlstream.Wrap(xmlstream.MultiReader(inner...), q))
	}
	if _, err := xmlstream.Copy(t, reply); err != nil {
		b.log.Warn("answer disco#items", "err", err)
	}
	return nil
}
