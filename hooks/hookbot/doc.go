/*
Package hookbot is the API that hook code sees.

Hook code is Go interpreted by yaegi. It imports this package as "hookbot"
and defines

	func Hook(ctx context.Context, bot hookbot.Bot, item hookbot.Item) error

The bot calls Hook once for each PubSub notification the hook asked for,
never concurrently with itself, with ctx ending at the hook timeout.
Returning an error, panicking or running out of time records the run as
failed; it never stops the bot or other hooks.

There are three ways to give the bot that code:

  - type go: the import path of a package under hooks_path/src, of any
    package name, that defines Hook; it may import other packages there.
  - type go_file: the path of one .go file, of any package name, that
    defines Hook.
  - type go_code: statements, the body of Hook, with ctx, bot and item in
    scope. They may start with import declarations, single or grouped.

For example, this go_code hook tells the admin about urgent items:

	import (
		"fmt"
		"strings"
	)
	if !strings.Contains(item.Payload, "urgent") {
		return nil
	}
	return bot.Send("admin@example.org", fmt.Sprintf("urgent item %s on %s", item.ID, item.Node))

A go_code body without a final return returns nil. Code is compiled when
the hook is created; a compile error refuses it with file:line:col (or
code:line:col) messages.

Hook code may import this package and the standard library (Go 1.22's API,
as yaegi provides it) except unsafe and syscall; go statements are refused,
and so are time.AfterFunc, context.AfterFunc and runtime.SetFinalizer:
a panic on a goroutine of its own would kill the bot. print, println and
fmt.Print* write nowhere: use Bot.Log, which is kept in the run's record.

yaegi is not a sandbox. Hooks are trusted code: they may read files and
start processes, and an infinite recursion or running out of memory kills
the bot. The package doc of hookbot/hooks/runtime lists the parts of Go
that yaegi does not interpret as the compiler does.
*/
package hookbot
