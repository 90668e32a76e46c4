// Package runtime compiles hook code with yaegi and runs it.
//
// Compile reads the code of a hook once, checks it and compiles it; the
// Program it returns keeps the code in memory, so that neither Run nor a
// reload after Unload reads a file again. Program.Run calls the hook's
// Hook function under a context: a hook that spins (for {}) or blocks on a
// channel is stopped when the context ends, and its interpreter is rebuilt
// before the next run.
//
// Hook code sees package hookbot and yaegi's standard library (Go 1.22's
// API) minus unsafe, syscall, time.AfterFunc, context.AfterFunc and
// runtime.SetFinalizer; go statements are refused. yaegi is not a sandbox:
// admin hooks may read files and start processes, and infinite recursion
// or running out of memory kills the bot.
//
// # Language gaps
//
// yaegi v0.16.1 interprets most of Go, but hook authors must know that:
//
//   - the builtins min, max and clear do not exist;
//   - range over an integer and range over a function are not supported;
//   - loop variables are shared between iterations, as before Go 1.22
//     (copy them, v := v, before capturing them in a closure);
//   - with a named result, a := that redeclares it in an inner scope
//     silently loses the value: assign with = instead;
//   - errors.As on an error type defined by the script fails;
//   - the standard library is Go 1.22's: newer functions are missing, and
//     so are the generic functions yaegi does not ship (slices.Sort,
//     slices.SortFunc, sync.OnceFunc, atomic.Pointer[T]…: use sort.Slice);
//   - print, println and fmt.Print* write nowhere: use bot.Log;
//   - native calls (time.Sleep, network I/O) are not interrupted by the
//     timeout: they finish, then the hook stops. Use ctx with APIs that
//     take one.
package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sync"

	"github.com/traefik/yaegi/interp"

	"hookbot/hooks/hookbot"
)

// Source says where the code of a hook comes from.
type Source struct {
	Type      string // "go", "go_file" or "go_code"
	Arg       string // import path, file path (absolute) or code
	HooksPath string // directory holding src/<import path>/ for type "go"
}

// Program is compiled hook code. It is safe for concurrent use; runs of one
// Program are serialized.
type Program struct {
	src *unit // read once at Compile, never changed

	mu   sync.Mutex
	inst *instance // nil when unloaded
}

// Compile reads and compiles the code src names. A compile error lists
// every problem as file:line:col (code:line:col for go_code) and is an
// *Error. The returned Program is unloaded: its first Run loads it.
func Compile(ctx context.Context, src Source) (*Program, error) {
	p, err := Parse(src)
	if err != nil {
		return nil, err
	}
	inst, err := p.src.load(ctx)
	if err != nil {
		return nil, err
	}
	inst.close()
	return p, nil
}

// Parse reads the code src names and checks what the Go parser can see
// (syntax, go statements, imports, a func Hook) without building an
// interpreter, which is about a hundred times cheaper than Compile. It is
// meant for code that Compile accepted before, such as hooks restored
// from the database: type errors, if any, surface at the first Run.
func Parse(src Source) (*Program, error) {
	u, err := read(src)
	if err != nil {
		return nil, err
	}
	if err := u.check(); err != nil {
		return nil, err
	}
	return &Program{src: u}, nil
}

// Run calls Hook(ctx, bot, item). It returns the hook's error, a panic as
// an error, or ctx's error (wrapped) when the run was stopped. Calls of
// bot made by the hook after Run returned (a native call that outlived a
// timeout) are refused, and Log lines dropped.
func (p *Program) Run(ctx context.Context, bot hookbot.Bot, item hookbot.Item) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("hook not run: %w", err)
	}
	if p.inst == nil {
		inst, err := p.src.load(ctx)
		if err != nil {
			return fmt.Errorf("load hook: %w", err)
		}
		p.inst = inst
	}
	rb := &runBot{bot: bot}
	defer rb.end()
	err, ended := p.inst.call(ctx, rb, item)
	if ended {
		// After a timeout the interpreter goroutine may still be in a
		// native call; after a panic its state is unknown: the next run
		// builds a new interpreter.
		p.inst.close()
		p.inst = nil
	}
	return err
}

// Unload frees the interpreter; the next Run loads it again from the code
// kept in memory.
func (p *Program) Unload() {
	p.mu.Lock()
	if p.inst != nil {
		p.inst.close()
		p.inst = nil
	}
	p.mu.Unlock()
}

// Loaded reports whether the Program holds an interpreter.
func (p *Program) Loaded() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inst != nil
}

// call holds the arguments of one run.
type call struct {
	ctx  context.Context
	bot  hookbot.Bot
	item hookbot.Item
}

// instance is one loaded interpreter of a Program. Its session, one
// EvalWithContext that lasts as long as the instance, runs a loop in
// the interpreter that takes calls from calls and puts Hook's results in
// results. This costs a channel round trip per run instead of a new
// goroutine, a stack to grow and a program to prepare, and it keeps
// yaegi's cancellation of for {} and channel operations: stopping a run
// ends the session.
type instance struct {
	calls   chan call     // to the session; closed by close
	results chan error    // from the session, one per call
	cancel  func()        // ends the session's EvalWithContext
	done    chan struct{} // closed when the session has ended
	err     error         // why the session ended, set before done
}

// call runs one call of Hook in the session. ended reports that the
// session is over (the hook panicked or was stopped).
func (inst *instance) call(ctx context.Context, bot hookbot.Bot, item hookbot.Item) (err error, ended bool) {
	inst.calls <- call{ctx: ctx, bot: bot, item: item}
	select {
	case err := <-inst.results:
		return err, false
	case <-inst.done:
		var pe interp.Panic
		if errors.As(inst.err, &pe) {
			// yaegi v0.16.1 does not know where the panic happened.
			return fmt.Errorf("hook panicked: %v", pe.Value), true
		}
		return fmt.Errorf("run hook: %w", inst.err), true
	case <-ctx.Done():
		return fmt.Errorf("hook stopped: %w", ctx.Err()), true
	}
}

// close ends the session. The interpreter goroutine ends at its next
// step, or when a native call it is in returns.
func (inst *instance) close() {
	inst.cancel()
	close(inst.calls)
}

// session is the loop the session runs.
const session = `for __call.Next() {
	__call.Done(__hook.Hook(__call.Args()))
}`

// callImportPath is the package through which the call program reaches
// the arguments of the current run.
const callImportPath = "hookbot.local/call"

// hookType is the type Hook must have.
var hookType = reflect.TypeOf((func(context.Context, hookbot.Bot, hookbot.Item) error)(nil))

// load builds an interpreter holding the hook's package and starts its
// session. ctx bounds the package initialization.
func (u *unit) load(ctx context.Context) (*instance, error) {
	inst := &instance{}
	i := interp.New(interp.Options{
		GoPath:               ".",
		SourcecodeFilesystem: u.fsys,
		Stdout:               io.Discard, // print and println: hooks use bot.Log
		Stderr:               io.Discard, // yaegi's panic traces, without positions

		Args: []string{"hook"},
		Env:  []string{},
	})
	syms := symbols(u.std)
	inst.calls = make(chan call, 1)
	inst.results = make(chan error, 1)
	inst.done = make(chan struct{})
	calls, results := inst.calls, inst.results
	var cur call // used by the session goroutine only
	syms[callImportPath+"/call"] = map[string]reflect.Value{
		"Next": reflect.ValueOf(func() bool {
			var ok bool
			cur, ok = <-calls
			return ok
		}),
		"Args": reflect.ValueOf(func() (context.Context, hookbot.Bot, hookbot.Item) {
			return cur.ctx, cur.bot, cur.item
		}),
		"Done": reflect.ValueOf(func(err error) {
			cur = call{}
			results <- err
		}),
	}
	if err := i.Use(syms); err != nil {
		return nil, fmt.Errorf("load symbols: %w", err)
	}
	imports := fmt.Sprintf("import (__hook %q; __call %q)", u.importPath, callImportPath)
	if _, err := i.EvalWithContext(ctx, imports); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("load hook: %w", ctx.Err())
		}
		return nil, &Error{Problems: u.fixCodeProblems(yaegiProblems(err, u.names))}
	}
	v, err := i.Eval("__hook.Hook")
	if err != nil {
		return nil, &Error{Problems: []Problem{{Msg: "no func Hook(ctx context.Context, bot hookbot.Bot, item hookbot.Item) error"}}}
	}
	if v.Type() != hookType {
		return nil, &Error{Problems: []Problem{{Pos: u.hookPos, Msg: fmt.Sprintf("Hook has type %s, want func(context.Context, hookbot.Bot, hookbot.Item) error", v.Type())}}}
	}
	sctx, cancel := context.WithCancel(context.Background())
	inst.cancel = cancel
	go func() {
		// EvalWithContext, not ExecuteWithContext: when canceled, the
		// latter writes its named results while its goroutine may still
		// write them (a data race in yaegi v0.16.1).
		_, err := i.EvalWithContext(sctx, session)
		if err == nil {
			err = errors.New("session ended")
		}
		inst.err = err
		close(inst.done)
	}()
	return inst, nil
}
