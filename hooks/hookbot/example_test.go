package hookbot_test

import (
	"context"
	"fmt"
	"time"

	"hookbot/hooks/hookbot"
	"hookbot/hooks/runtime"
)

// printBot is a hookbot.Bot that prints what hooks ask of it.
type printBot struct{}

func (printBot) JID() string { return "hookbot@example.org/hookbot" }

func (printBot) Send(to, body string) error {
	fmt.Printf("send to %s: %s\n", to, body)
	return nil
}

func (printBot) Publish(service, node, id, payload string) (string, error) {
	fmt.Printf("publish on %s/%s: %s\n", service, node, payload)
	return "generated-id", nil
}

func (printBot) Log(msg string) { fmt.Println("log:", msg) }

// run compiles go_code and runs it once on item, as the bot does.
func run(code string, item hookbot.Item) {
	p, err := runtime.Compile(context.Background(), runtime.Source{Type: runtime.TypeGoCode, Arg: code})
	if err != nil {
		fmt.Println("refused:", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.Run(ctx, printBot{}, item); err != nil {
		fmt.Println("run failed:", err)
	}
}

var news = hookbot.Item{
	Kind:      hookbot.KindItems,
	Service:   "pubsub.example.org",
	Node:      "news",
	ID:        "42",
	Publisher: "alice@example.org",
	Payload:   `<entry xmlns="http://www.w3.org/2005/Atom"><title>Release 1.0</title></entry>`,
	Time:      time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC),
}

// A go_code hook is the body of Hook: ctx, bot and item are in scope.
func Example() {
	run(`bot.Log("new item " + item.ID + " on " + item.Node)
return bot.Send("admin@example.org", "published by "+item.Publisher)`, news)
	// Output:
	// log: new item 42 on news
	// send to admin@example.org: published by alice@example.org
}

// The go_code hook of the package documentation.
func Example_urgent() {
	code := `import (
	"fmt"
	"strings"
)
if !strings.Contains(item.Payload, "urgent") {
	return nil
}
return bot.Send("admin@example.org", fmt.Sprintf("urgent item %s on %s", item.ID, item.Node))`
	item := news
	item.Payload = "<note>urgent: disk full</note>"
	run(code, news)
	run(code, item)
	// Output:
	// send to admin@example.org: urgent item 42 on news
}

// Item.Payload is the item's XML; the standard library decodes it.
func ExampleItem() {
	run(`import (
	"encoding/xml"
	"fmt"
)

var entry struct {
	Title string `+"`xml:\"title\"`"+`
}
if err := xml.Unmarshal([]byte(item.Payload), &entry); err != nil {
	return fmt.Errorf("not an Atom entry: %w", err)
}
bot.Log(fmt.Sprintf("%s at %s: %q", item.Kind, item.Time.Format("15:04"), entry.Title))`, news)
	// Output:
	// log: items at 10:00: "Release 1.0"
}

// Kind tells which notification ran the hook.
func ExampleItem_kind() {
	code := `import "hookbot"

switch item.Kind {
case hookbot.KindItems:
	bot.Log("published " + item.ID)
case hookbot.KindRetract:
	bot.Log("retracted " + item.ID)
default:
	bot.Log(item.Kind + " of the whole node")
}`
	for _, kind := range []string{hookbot.KindItems, hookbot.KindRetract, hookbot.KindPurge} {
		item := news
		item.Kind = kind
		run(code, item)
	}
	// Output:
	// log: published 42
	// log: retracted 42
	// log: purge of the whole node
}

// Publish relays an item to another node; the service may choose its ID.
func ExampleBot_publish() {
	run(`id, err := bot.Publish("pubsub.example.org", "mirror", "", item.Payload)
if err != nil {
	return err
}
bot.Log("mirrored as " + id + " by " + bot.JID())`, news)
	// Output:
	// publish on pubsub.example.org/mirror: <entry xmlns="http://www.w3.org/2005/Atom"><title>Release 1.0</title></entry>
	// log: mirrored as generated-id by hookbot@example.org/hookbot
}

// Code that does not compile is refused with its positions; go
// statements and the unsafe and syscall packages are refused too.
func Example_refused() {
	run(`import "unsafe"
bot.Log(undefinedName)
go bot.Log("elsewhere")`, news)
	// Output:
	// refused: code:1:8: import of unsafe is not allowed
	// code:3:1: go statements are not allowed in hooks
}

// A hook that runs past its deadline is stopped, even in a loop or
// blocked on a channel.
func Example_timeout() {
	p, err := runtime.Compile(context.Background(), runtime.Source{Type: runtime.TypeGoCode, Arg: `for {
}`})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	fmt.Println(p.Run(ctx, printBot{}, news))
	// Output:
	// hook stopped: context deadline exceeded
}
