package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/mux"
	"mellium.im/xmpp/stanza"

	"hookbot/bot/pubsub"
	"hookbot/internal/prosody"
)

// The floor runs in its own process so that its CPU time and RSS can be
// read from /proc like the bot's. The bench binary (or the test binary,
// see TestMain) re-executes itself with floorChildEnv set; the child
// learns where to log in from the other variables below.
const (
	floorChildEnv    = "BENCH_FLOOR_CHILD" // "1" in the child
	floorServerEnv   = "BENCH_FLOOR_SERVER"
	floorCAFileEnv   = "BENCH_FLOOR_CA_FILE"
	floorPasswordEnv = "BENCH_FLOOR_PASSWORD"
)

// floorReady is the first line the child writes, once subscribed.
const floorReady = "ready"

// isFloorChild reports whether this process is the floor child.
func isFloorChild() bool { return os.Getenv(floorChildEnv) == "1" }

// floorChild is the floor process: it logs in as the floor account,
// subscribes to the bench node and writes "<item id> <receive time in
// Unix ns>\n" to its standard output for every item notified, with one
// write per notification. The receive time is the one bot/pubsub's
// handler gives each item (time.Now() before parsing), as in the bot.
// It exits on SIGTERM, SIGINT or the end of its standard input, and
// returns its exit code; errors go to standard error.
func floorChild() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := runFloorChild(ctx, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "bench floor: %v\n", err)
		return 1
	}
	return 0
}

func runFloorChild(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	server, caFile, pass := os.Getenv(floorServerEnv), os.Getenv(floorCAFileEnv), os.Getenv(floorPasswordEnv)
	if server == "" || caFile == "" || pass == "" {
		return fmt.Errorf("%s, %s and %s must be set", floorServerEnv, floorCAFileEnv, floorPasswordEnv)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		// The parent closes our standard input to stop us (and so does
		// its death).
		io.Copy(io.Discard, stdin)
		cancel()
	}()

	// The only work per notification besides bot/pubsub's parsing: format
	// the lines of its items into one buffer and write it. It runs on the
	// session's Serve goroutine, where the bot too parses notifications.
	w := bufio.NewWriter(stdout)
	var writeErr error
	deliver := func(ev pubsub.Event) {
		for _, it := range ev.Items {
			if it.Kind != "items" {
				continue
			}
			w.WriteString(it.ID)
			w.WriteByte(' ')
			var num [20]byte
			w.Write(strconv.AppendInt(num[:0], it.Time.UnixNano(), 10))
			w.WriteByte('\n')
		}
		if err := w.Flush(); err != nil && writeErr == nil {
			writeErr = err
			cancel()
		}
	}
	self := jid.MustParse("floor@" + prosody.Domain)
	h := pubsub.Handler(self, slog.New(slog.NewTextHandler(os.Stderr, nil)), deliver)
	s, stopServe, served, err := dialServe(ctx, server, caFile, "floor", pass, mux.New(stanza.NSClient, pubsub.MuxOptions(h)...))
	if err != nil {
		return err
	}
	stopSession := sync.OnceFunc(stopServe)
	defer stopSession()
	if err := subscribe(ctx, s); err != nil {
		return err
	}
	// Nothing is notified before the parent has read this line and
	// published, so this write does not race with deliver's.
	if _, err := io.WriteString(stdout, floorReady+"\n"); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		// Stopped by the parent (SIGTERM or end of input), or a failed
		// write, whose error stopSession's wait for Serve makes safe to read.
		stopSession()
		if writeErr != nil {
			return fmt.Errorf("write to the bench: %w", writeErr)
		}
		return nil
	case err := <-served:
		return fmt.Errorf("session ended: %v", err)
	}
}

// floorProc is the floor child as the parent sees it.
type floorProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{} // closed when the child has exited
	log   string        // its standard error
}

// startFloor starts the floor child, feeds its lines to e.recv, and waits
// until it is subscribed.
func (e *env) startFloor(ctx context.Context, pass string) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	f := &floorProc{done: make(chan struct{}), log: filepath.Join(e.dir, "floor.log")}
	logf, err := os.Create(f.log)
	if err != nil {
		return err
	}
	defer logf.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	defer pw.Close()
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(),
		floorChildEnv+"=1",
		floorServerEnv+"="+e.srv.Addr,
		floorCAFileEnv+"="+e.srv.CAFile,
		floorPasswordEnv+"="+pass,
	)
	cmd.Stdout, cmd.Stderr = pw, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if f.stdin, err = cmd.StdinPipe(); err != nil {
		pr.Close()
		return err
	}
	if err := cmd.Start(); err != nil {
		pr.Close()
		return fmt.Errorf("start the floor: %w", err)
	}
	f.cmd = cmd
	e.floor = f
	go func() {
		cmd.Wait()
		close(f.done)
	}()
	e.closers = append(e.closers, e.stopFloor)
	e.logf("floor started (pid %d)", cmd.Process.Pid)

	ready := make(chan struct{})
	go e.readFloor(pr, ready)
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	select {
	case <-ready:
		return nil
	case <-f.done:
		return fmt.Errorf("the floor exited (%v) before it was subscribed; log:\n%s", cmd.ProcessState, tail(f.log, 30))
	case <-ctx.Done():
		return fmt.Errorf("the floor not subscribed within 60 s; log:\n%s", tail(f.log, 30))
	}
}

// readFloor reads the floor's lines until it exits: the first is
// floorReady, then "<id> <unix ns>" per item received.
func (e *env) readFloor(r *os.File, ready chan<- struct{}) {
	defer r.Close()
	sc := bufio.NewScanner(r)
	if !sc.Scan() || sc.Text() != floorReady {
		return
	}
	close(ready)
	for sc.Scan() {
		id, ns, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		t, err := strconv.ParseInt(ns, 10, 64)
		if err != nil {
			continue
		}
		e.recv.record(id, time.Unix(0, t))
	}
}

// floorAlive reports an error if the floor process has exited.
func (e *env) floorAlive() error {
	return exited("the floor", e.floor.done, e.floor.cmd, e.floor.log)
}

// stopFloor closes the floor's standard input and terminates it.
func (e *env) stopFloor() {
	f := e.floor
	f.stdin.Close()
	e.terminate("the floor", f.cmd.Process, f.done)
	if s := f.cmd.ProcessState; s != nil && !s.Success() {
		e.logf("the floor exited with %v; log:\n%s", s, tail(f.log, 10))
	}
}
