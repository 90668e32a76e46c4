package main

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/mux"
	"mellium.im/xmpp/stanza"

	"hookbot/bot/adhoc"
	"hookbot/bot/pubsub"
	"hookbot/internal/prosody"
)

// Options configure a run.
type Options struct {
	Quick   bool   // short smoke run
	Hookbot string // binary to run; "" builds ./cmd/hookbot
	Rate    int    // items per second in the paced phase
	Keep    bool   // keep the work directory
	// CPUProfile, when set, builds hookbot with a CPU profiler (added
	// through go build -overlay) and writes the profile of the paced phase
	// there.
	CPUProfile string
	// ProfilePhase is the phase profiled: paced (the default), burst or
	// drain.
	ProfilePhase string
}

// sizes are the item counts of the phases.
type sizes struct {
	warmup, paced, burst, backlog int
}

func (o Options) sizes() sizes {
	if o.Quick {
		// 600 paced items (2 s at 300/s): the floor's CPU time over the
		// phase is then several 10 ms ticks of /proc/PID/stat, not 0 or 1.
		return sizes{warmup: 20, paced: 600, burst: 300, backlog: 300}
	}
	return sizes{warmup: 100, paced: 3000, burst: 2000, backlog: 2000}
}

// node is the PubSub node on pubsub.localhost the bench publishes to.
const node = "bench"

// env is everything a run started: it is torn down by close.
type env struct {
	log     io.Writer
	dir     string
	keep    bool
	srv     *prosody.Server
	bot     *exec.Cmd
	botDone chan struct{}
	botLog  string
	botJID  jid.JID
	runFile string
	admin   *xmpp.Session // the publisher, a bot admin and Prosody admin
	floor   *floorProc    // the bare subscriber, a child process
	recv    *receipts     // what the floor received
	profile string        // absolute path of the CPU profile, or ""
	closers []func()
}

func (e *env) logf(format string, args ...any) {
	fmt.Fprintf(e.log, "bench: "+format+"\n", args...)
}

// setup starts Prosody, the bot, the publisher and the floor, and creates
// the node and the hook. On error, the caller still calls close.
func setup(ctx context.Context, o Options, log io.Writer) (*env, error) {
	if !prosody.Installed() {
		return nil, errors.New("prosody is not installed (apt-get install prosody)")
	}
	dir, err := os.MkdirTemp("", "hookbot-bench-")
	if err != nil {
		return nil, err
	}
	e := &env{log: log, dir: dir, keep: o.Keep, runFile: filepath.Join(dir, "runs.txt"), recv: newReceipts()}

	bin := o.Hookbot
	if bin == "" {
		bin = filepath.Join(dir, "hookbot")
		e.logf("building hookbot")
		if err := build(ctx, bin, dir, o.CPUProfile != ""); err != nil {
			return e, err
		}
	} else if o.CPUProfile != "" {
		return e, errors.New("-cpuprofile needs hookbot built by the bench, not -hookbot")
	} else if bin, err = filepath.Abs(bin); err != nil {
		return e, err
	}
	if o.CPUProfile != "" {
		if e.profile, err = filepath.Abs(o.CPUProfile); err != nil {
			return e, err
		}
	}

	pdir := filepath.Join(dir, "prosody")
	if err := os.MkdirAll(pdir, 0o750); err != nil {
		return e, err
	}
	// Nodes and items in memory: the bench measures the bot, not the
	// disk under Prosody's internal storage.
	e.srv, err = prosody.New(pdir, prosody.WithPubSubConfig(`storage = "memory"`+"\n"+`pubsub_max_items = 10000`))
	if err != nil {
		return e, fmt.Errorf("prosody: %w", err)
	}
	if err := e.srv.Start(); err != nil {
		return e, fmt.Errorf("prosody: %w\n%s", err, e.srv.LogTail(40))
	}
	e.closers = append(e.closers, func() { e.srv.Kill() })
	e.logf("prosody on %s (pid %d)", e.srv.Addr, e.srv.PID())

	pass := map[string]string{}
	for _, u := range []string{"bot", "admin", "floor"} {
		pass[u] = password()
		if _, err := e.srv.AddUser(u, pass[u]); err != nil {
			return e, err
		}
	}
	e.botJID = jid.MustParse("bot@" + prosody.Domain + "/hookbot")
	if err := e.startBot(bin, pass["bot"]); err != nil {
		return e, err
	}

	if e.admin, err = e.dial(ctx, "admin", pass["admin"], mux.New(stanza.NSClient)); err != nil {
		return e, err
	}
	if err := e.waitOnline(ctx); err != nil {
		return e, err
	}
	if err := e.createNode(ctx); err != nil {
		return e, err
	}
	if err := e.startFloor(ctx, pass["floor"]); err != nil {
		return e, err
	}
	return e, nil
}

// profileSource is added to package main of cmd/hookbot when profiling.
//
//go:embed profile/profile.go.txt
var profileSource []byte

// build compiles ./cmd/hookbot (found from the working directory up to
// go.mod) into bin; with profile, it adds profileSource through an
// overlay written in dir.
func build(ctx context.Context, bin, dir string, profile bool) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	args := []string{"build", "-o", bin}
	if profile {
		src := filepath.Join(dir, "zz_bench_profile.go")
		if err := os.WriteFile(src, profileSource, 0o644); err != nil {
			return err
		}
		overlay, err := json.Marshal(map[string]map[string]string{
			"Replace": {filepath.Join(root, "cmd", "hookbot", "zz_bench_profile.go"): src},
		})
		if err != nil {
			return err
		}
		ofile := filepath.Join(dir, "overlay.json")
		if err := os.WriteFile(ofile, overlay, 0o644); err != nil {
			return err
		}
		args = append(args, "-overlay", ofile)
	}
	cmd := exec.CommandContext(ctx, filepath.Join(runtime.GOROOT(), "bin", "go"), append(args, "./cmd/hookbot")...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/hookbot: %w\n%s", err, out)
	}
	return nil
}

// moduleRoot returns the directory of the hookbot go.mod at or above the
// working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(string(data), "module hookbot\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the hookbot module: run from the repository or give -hookbot")
		}
		dir = parent
	}
}

// startBot writes hookbot.toml and starts the bot in dir (its database is
// the default hookbot.db there).
func (e *env) startBot(bin, pass string) error {
	cfg := fmt.Sprintf(`# written by hookbot's bench
jid = "bot@%s"
password = %q
server = %q
ca_file = %q
admins = ["admin@%s"]
`, prosody.Domain, pass, e.srv.Addr, e.srv.CAFile, prosody.Domain)
	cfgFile := filepath.Join(e.dir, "hookbot.toml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		return err
	}
	e.botLog = filepath.Join(e.dir, "hookbot.log")
	logf, err := os.Create(e.botLog)
	if err != nil {
		return err
	}
	// The hook writes its lines to the bot's standard output, opened in
	// append mode: each line is one write, whole.
	runs, err := os.OpenFile(e.runFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		logf.Close()
		return err
	}
	defer runs.Close()
	cmd := exec.Command(bin, "run", "-c", cfgFile)
	cmd.Dir = e.dir
	cmd.Stdout, cmd.Stderr = runs, logf
	if e.profile != "" {
		cmd.Env = append(os.Environ(), "BENCH_HOOKBOT_CPUPROFILE="+e.profile)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start hookbot: %w", err)
	}
	e.bot, e.botDone = cmd, make(chan struct{})
	go func() {
		cmd.Wait()
		logf.Close()
		close(e.botDone)
	}()
	e.closers = append(e.closers, e.stopBot)
	e.logf("hookbot started (pid %d)", cmd.Process.Pid)
	return nil
}

// stopBot resumes the bot if it was paused, sends SIGTERM and waits, then
// SIGKILL after 10 s.
func (e *env) stopBot() {
	e.bot.Process.Signal(syscall.SIGCONT)
	e.terminate("hookbot", e.bot.Process, e.botDone)
}

// terminate sends SIGTERM to p, then SIGKILL if it has not exited (done
// closed) within 10 s.
func (e *env) terminate(name string, p *os.Process, done <-chan struct{}) {
	p.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		e.logf("%s (pid %d) ignored SIGTERM for 10 s: killing it", name, p.Pid)
		p.Kill()
		<-done
	}
}

// botAlive reports an error if the bot process has exited.
func (e *env) botAlive() error {
	return exited("hookbot", e.botDone, e.bot, e.botLog)
}

// exited returns an error with the end of its log if the process of cmd
// has exited (done closed), and nil while it runs.
func exited(name string, done <-chan struct{}, cmd *exec.Cmd, log string) error {
	select {
	case <-done:
		return fmt.Errorf("%s exited (%v); log:\n%s", name, cmd.ProcessState, tail(log, 30))
	default:
		return nil
	}
}

// dial logs user in, serves h and sends initial presence; e.close stops
// the session.
func (e *env) dial(ctx context.Context, user, pass string, h xmpp.Handler) (*xmpp.Session, error) {
	s, closeFn, _, err := dialServe(ctx, e.srv.Addr, e.srv.CAFile, user, pass, h)
	if err != nil {
		return nil, err
	}
	e.closers = append(e.closers, closeFn)
	return s, nil
}

// dialServe logs user@localhost in on the Prosody at server, serves h and
// sends initial presence. stop closes the session and waits for Serve;
// served yields Serve's error (nil on a clean end) when the session ends.
// The floor child dials with it too.
func dialServe(ctx context.Context, server, caFile, user, pass string, h xmpp.Handler) (s *xmpp.Session, stop func(), served <-chan error, err error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	addr := jid.MustParse(user + "@" + prosody.Domain)
	s, err = prosody.Dial(ctx, server, caFile, addr, pass, "bench")
	if err != nil {
		return nil, nil, nil, fmt.Errorf("log in as %s: %w", user, err)
	}
	done := make(chan struct{})
	serveErr := make(chan error, 1)
	go func() {
		defer close(done)
		serveErr <- s.Serve(h)
	}()
	stop = func() {
		s.Close()
		s.Conn().Close()
		<-done
	}
	if err := s.Send(ctx, stanza.Presence{}.Wrap(nil)); err != nil {
		stop()
		return nil, nil, nil, fmt.Errorf("presence of %s: %w", user, err)
	}
	return s, stop, serveErr, nil
}

// waitOnline waits until the bot answers disco#info from the admin.
func (e *env) waitOnline(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		if err := e.botAlive(); err != nil {
			return err
		}
		ictx, icancel := context.WithTimeout(ctx, 2*time.Second)
		err := e.admin.UnmarshalIQElement(ictx, xmlstream.Wrap(nil, xml.StartElement{
			Name: xml.Name{Space: "http://jabber.org/protocol/disco#info", Local: "query"},
		}), stanza.IQ{To: e.botJID, Type: stanza.GetIQ}, nil)
		icancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("hookbot not online within 30 s: %v; log:\n%s", err, tail(e.botLog, 30))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// createNode creates the bench node on the PubSub component.
func (e *env) createNode(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err := e.admin.UnmarshalIQElement(ctx, xmlstream.Wrap(
		xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Local: "create"}, Attr: []xml.Attr{{Name: xml.Name{Local: "node"}, Value: node}}}),
		xml.StartElement{Name: xml.Name{Space: pubsub.NS, Local: "pubsub"}},
	), stanza.IQ{To: jid.MustParse(prosody.PubSubDomain), Type: stanza.SetIQ}, nil)
	if err != nil {
		return fmt.Errorf("create node %s: %w", node, err)
	}
	return nil
}

// subscribe subscribes the session s (the floor) to the bench node.
func subscribe(ctx context.Context, s *xmpp.Session) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	state, err := pubsub.Subscribe(ctx, s, jid.MustParse(prosody.PubSubDomain), node, jid.JID{})
	if err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	if state != pubsub.StateSubscribed {
		return fmt.Errorf("floor: subscription to %s is %s", node, state)
	}
	return nil
}

// hookCode is the go_code of the measured hook: one line per run, "<item
// id> <run time> <bot receive time>" in Unix nanoseconds, written with one
// write to the bot's standard output, which is the run file.
const hookCode = `import ("fmt"; "os"; "time")
_, err := fmt.Fprintf(os.Stdout, "%s %d %d\n", item.ID, time.Now().UnixNano(), item.Time.UnixNano())
return err`

// createHook creates the measured hook through the ad-hoc create command,
// as an admin would.
func (e *env) createHook(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := adhoc.Send(ctx, e.admin, e.botJID, adhoc.Request{Node: "create"})
	if err != nil {
		return "", fmt.Errorf("create hook: %w", err)
	}
	resp, err = adhoc.Send(ctx, e.admin, e.botJID, adhoc.Request{
		Node: "create", SessionID: resp.SessionID, Action: adhoc.Complete,
		Submit: []adhoc.Field{
			{Var: "node", Values: []string{node}},
			{Var: "service", Values: []string{prosody.PubSubDomain}},
			{Var: "type", Values: []string{"go_code"}},
			{Var: "arg", Values: strings.Split(hookCode, "\n")},
			{Var: "persistent", Values: []string{"0"}},
		},
	})
	if err != nil {
		return "", fmt.Errorf("create hook: %w", err)
	}
	if resp.Status != "completed" || resp.Form == nil {
		return "", fmt.Errorf("create hook: status %s, notes %+v", resp.Status, resp.Notes)
	}
	return resp.Form.Value("id"), nil
}

// close stops everything setup started, last first, and removes the work
// directory unless it is kept.
func (e *env) close() {
	for i := len(e.closers) - 1; i >= 0; i-- {
		e.closers[i]()
	}
	if e.keep {
		e.logf("work directory kept: %s", e.dir)
		return
	}
	os.RemoveAll(e.dir)
}

func password() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// tail returns the last n lines of file.
func tail(file string, n int) string {
	data, _ := os.ReadFile(file)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
