package main

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"hookbot/bot/adhoc"
	"hookbot/bot/pubsub"
	"hookbot/internal/prosody"
)

// demoNode is the PubSub node of the sample hook.
const demoNode = "demo"

// sampleCode is the sample hook: it chats every item of its node to the
// admin (ADMIN is replaced by the admin's bare JID).
const sampleCode = `import "fmt"
msg := fmt.Sprintf("%s %s on %s: %s", item.Kind, item.ID, item.Node, item.Payload)
bot.Log(msg)
return bot.Send("ADMIN", msg)`

// sampleHook shows hookbot at work, as the admin on session s: it creates
// the sample go_code hook through the bot's ad-hoc create command,
// creates demoNode on the PubSub service, publishes two items and prints
// the two messages the hook sends back (read from msgs).
func sampleHook(ctx context.Context, out io.Writer, s *xmpp.Session, msgs <-chan string, srv *prosody.Server, botJID, adminJID string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	bot, err := jid.Parse(botJID + "/hookbot")
	if err != nil {
		return err
	}
	service := jid.MustParse(srv.PubSub)

	if err := createNode(ctx, s, service, demoNode); err != nil {
		return err
	}
	code := strings.ReplaceAll(sampleCode, "ADMIN", adminJID)
	resp, err := adhoc.Send(ctx, s, bot, adhoc.Request{Node: "create"})
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	resp, err = adhoc.Send(ctx, s, bot, adhoc.Request{Node: "create", SessionID: resp.SessionID, Action: adhoc.Complete,
		Submit: []adhoc.Field{
			{Var: "node", Values: []string{demoNode}},
			{Var: "service", Values: []string{srv.PubSub}},
			{Var: "type", Values: []string{"go_code"}},
			{Var: "arg", Values: strings.Split(code, "\n")},
			{Var: "persistent", Values: []string{"0"}}, // a rerun in the same -dir creates it again
		}})
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	if resp.Status != "completed" {
		return fmt.Errorf("create: %s: %s", resp.Status, resp.NoteText("error"))
	}
	fmt.Fprintf(out, "\nCreated a sample go_code hook through the ad-hoc command \"create\": %s\n", resp.NoteText("info"))
	fmt.Fprintf(out, "  node %s on %s, code:\n    %s\n", demoNode, srv.PubSub, strings.ReplaceAll(code, "\n", "\n    "))

	for i := 1; i <= 2; i++ {
		id := fmt.Sprintf("item-%d", i)
		// The time makes each run's payloads new: a rerun in the same -dir
		// republishes the same ids, and an unchanged payload is a replay
		// that hooks do not see.
		payload := fmt.Sprintf("<entry xmlns='http://www.w3.org/2005/Atom'><title>Demo item %d</title><updated>%s</updated></entry>",
			i, time.Now().UTC().Format(time.RFC3339Nano))
		if _, err := pubsub.Publish(ctx, s, service, demoNode, id, payload); err != nil {
			return err
		}
		fmt.Fprintf(out, "Published %s on %s/%s\n", id, srv.PubSub, demoNode)
	}
	for i := 0; i < 2; i++ {
		select {
		case body := <-msgs:
			fmt.Fprintf(out, "hook output: %s\n", body)
		case <-ctx.Done():
			return fmt.Errorf("the sample hook sent %d of 2 messages: %w", i, ctx.Err())
		}
	}
	return nil
}

// createNode creates node on service (the admin of Prosody may).
func createNode(ctx context.Context, s *xmpp.Session, service jid.JID, node string) error {
	err := s.UnmarshalIQElement(ctx, xmlstream.Wrap(
		xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Local: "create"}, Attr: []xml.Attr{{Name: xml.Name{Local: "node"}, Value: node}}}),
		xml.StartElement{Name: xml.Name{Space: pubsub.NS, Local: "pubsub"}},
	), stanza.IQ{To: service, Type: stanza.SetIQ}, nil)
	if err != nil && !errors.Is(err, stanza.Error{Condition: stanza.Conflict}) { // conflict: it exists (a rerun in the same -dir)
		return fmt.Errorf("create node %s on %s: %w", node, service, err)
	}
	return nil
}
