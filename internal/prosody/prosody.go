// Package prosody runs a private Prosody XMPP server for integration tests
// and the demo.
//
// Each Server lives in its own directory (configuration, self-signed
// certificate for "localhost" and "pubsub.localhost", data, log), listens
// for c2s with StartTLS on a free loopback port and serves the PubSub
// component pubsub.localhost. Several test binaries may run at once: each
// starts its own Server on its own port. A Server is only ever stopped
// through the PID it started.
//
// In tests:
//
//	srv := prosody.Start(t)                   // skipped when Prosody is missing
//	srv.Register(t, "admin", "pass")          // admin@localhost is a server admin
//	s := srv.Dial(t, ctx, "admin", "pass", "test")
//	go s.Serve(handler)
package prosody

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Domain is the virtual host every Server serves.
const Domain = "localhost"

// PubSubDomain is the address of the PubSub component.
const PubSubDomain = "pubsub.localhost"

// EnvIntegration is the environment variable that turns a missing Prosody
// from a skip into a failure.
const EnvIntegration = "HOOKBOT_INTEGRATION"

// Server is a private Prosody process.
type Server struct {
	Addr string // "127.0.0.1:port" of the c2s listener (StartTLS)
	Port int    // port of Addr
	// DirectTLSAddr is "127.0.0.1:port" of the direct TLS c2s listener
	// (XEP-0368), or "" without WithDirectTLS.
	DirectTLSAddr string
	Domain        string // virtual host, "localhost"
	PubSub        string // PubSub component, "pubsub.localhost"
	Dir           string // directory holding everything below
	Config        string // path of the Lua configuration
	CAFile        string // PEM certificate to trust (self-signed, for Domain and PubSub)

	logFile     string
	consoleFile string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// Option changes the configuration of a Server.
type Option func(*options)

type options struct {
	directTLS bool
	plain     bool
	admins    []string
	global    []string
	component []string
}

// WithAdmins sets the server admins (default admin@localhost). Only admins
// may create nodes on the PubSub component.
func WithAdmins(jids ...string) Option {
	return func(o *options) { o.admins = jids }
}

// WithDirectTLS also listens for direct TLS c2s connections on
// DirectTLSAddr.
func WithDirectTLS() Option {
	return func(o *options) { o.directTLS = true }
}

// WithPlainC2S lets clients log in without TLS (c2s_require_encryption
// = false), to test tls = "none" on loopback.
func WithPlainC2S() Option {
	return func(o *options) { o.plain = true }
}

// WithConfig adds Lua lines to the global section of the configuration.
// Prosody refuses an option set twice: use it for options this package
// does not set.
func WithConfig(lua string) Option {
	return func(o *options) { o.global = append(o.global, lua) }
}

// WithPubSubConfig adds Lua lines to the PubSub component's section, for
// example `expose_publisher = true` or `pubsub_max_items = 1000`.
func WithPubSubConfig(lua string) Option {
	return func(o *options) { o.component = append(o.component, lua) }
}

// Installed reports whether the prosody and prosodyctl commands are found.
func Installed() bool {
	for _, name := range []string{"prosody", "prosodyctl"} {
		if _, err := exec.LookPath(name); err != nil {
			return false
		}
	}
	return true
}

// Require skips the test when Prosody is not installed, or fails it when
// HOOKBOT_INTEGRATION=1 says integration tests must run.
func Require(t testing.TB) {
	t.Helper()
	if Installed() {
		return
	}
	if os.Getenv(EnvIntegration) == "1" {
		t.Fatalf("prosody is not installed and %s=1: install it (apt-get install prosody) or run `make test`", EnvIntegration)
	}
	t.Skipf("prosody is not installed: skipping integration test (install it or run `make test`; set %s=1 to make this a failure)", EnvIntegration)
}

// Start creates a Server in a fresh temporary directory, starts it and
// stops it (SIGKILL, by PID) when the test ends. The tail of Prosody's log
// is printed if the test failed. Start skips the test as Require does.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	Require(t)
	s, err := New(t.TempDir(), opts...)
	if err != nil {
		t.Fatalf("prosody: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("prosody: %v\n%s", err, s.LogTail(60))
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("prosody log (tail):\n%s", s.LogTail(80))
		}
		if err := s.Kill(); err != nil {
			t.Logf("prosody: %v", err)
		}
	})
	return s
}

// New writes the certificate and configuration of a Server into dir
// (which must exist) on a free loopback port. It does not start it.
func New(dir string, opts ...Option) (*Server, error) {
	o := options{admins: []string{"admin@" + Domain}}
	for _, opt := range opts {
		opt(&o)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &Server{
		Addr:        net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		Port:        port,
		Domain:      Domain,
		PubSub:      PubSubDomain,
		Dir:         dir,
		Config:      filepath.Join(dir, "prosody.cfg.lua"),
		CAFile:      filepath.Join(dir, Domain+".crt"),
		logFile:     filepath.Join(dir, "prosody.log"),
		consoleFile: filepath.Join(dir, "console.log"),
	}
	if o.directTLS {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		s.DirectTLSAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o750); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	if err := writeCert(s.CAFile, filepath.Join(dir, Domain+".key"), Domain, PubSubDomain); err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	if err := os.WriteFile(s.Config, []byte(s.config(o)), 0o640); err != nil {
		return nil, fmt.Errorf("write config: %w", err)
	}
	return s, nil
}

func (s *Server) config(o options) string {
	q := strconv.Quote
	var admins []string
	for _, a := range o.admins {
		admins = append(admins, q(a))
	}
	var b strings.Builder
	fmt.Fprintf(&b, `-- private Prosody for hookbot tests
run_as_root = true
daemonize = false
pidfile = %s
data_path = %s
certificates = %s
interfaces = { "127.0.0.1" }
c2s_ports = { %d }
c2s_direct_tls_ports = { %s }
s2s_ports = { }
http_ports = { }
https_ports = { }
component_ports = { }
use_ipv6 = false
admins = { %s }
authentication = "internal_hashed"
password_hash = "SHA-256"
storage = "internal"
c2s_require_encryption = %t
allow_registration = false
log = { { levels = { min = "debug" }, to = "file", filename = %s } }
modules_enabled = { "roster"; "saslauth"; "tls"; "disco"; "pep"; "ping"; "posix" }
modules_disabled = { "s2s" }
ssl = { certificate = %s; key = %s }
`, q(filepath.Join(s.Dir, "prosody.pid")), q(filepath.Join(s.Dir, "data")), q(s.Dir),
		s.Port, s.directPort(), strings.Join(admins, ", "), !o.plain, q(s.logFile),
		q(s.CAFile), q(filepath.Join(s.Dir, Domain+".key")))
	for _, l := range o.global {
		fmt.Fprintln(&b, l)
	}
	fmt.Fprintf(&b, "\nVirtualHost %s\n\nComponent %s \"pubsub\"\n", q(Domain), q(PubSubDomain))
	for _, l := range o.component {
		fmt.Fprintln(&b, l)
	}
	return b.String()
}

func (s *Server) directPort() string {
	if s.DirectTLSAddr == "" {
		return ""
	}
	_, port, _ := net.SplitHostPort(s.DirectTLSAddr)
	return port
}

// Start starts the Prosody process and waits until it accepts connections.
// It also starts a stopped Server again on the same port with the same data.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		select {
		case <-s.done:
		default:
			return errors.New("prosody is already running")
		}
	}
	console, err := os.OpenFile(s.consoleFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("open console log: %w", err)
	}
	cmd := exec.Command("prosody", "--config", s.Config, "-F")
	cmd.Dir = s.Dir
	cmd.Stdout = console
	cmd.Stderr = console
	// Its own process group: a Ctrl-C meant for the demo's parent does
	// not reach Prosody before the demo stops it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		console.Close()
		return fmt.Errorf("start prosody: %w", err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		console.Close()
		close(done)
	}()
	s.cmd, s.done = cmd, done

	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.Addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("prosody exited during start (%v)", cmd.ProcessState)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("prosody does not accept connections on %s after 20s", s.Addr)
		}
	}
}

// PID returns the process ID of the running Prosody, or 0.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	select {
	case <-s.done:
		return 0
	default:
		return s.cmd.Process.Pid
	}
}

// Stop sends SIGTERM and waits for Prosody to exit (SIGKILL after 10 s).
// Stopping a stopped Server does nothing.
func (s *Server) Stop() error {
	return s.signal(syscall.SIGTERM, 10*time.Second)
}

// Kill sends SIGKILL and waits for Prosody to exit.
func (s *Server) Kill() error {
	return s.signal(syscall.SIGKILL, 10*time.Second)
}

func (s *Server) signal(sig syscall.Signal, wait time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return nil
	}
	select {
	case <-s.done:
		return nil
	default:
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signal prosody (pid %d): %w", s.cmd.Process.Pid, err)
	}
	select {
	case <-s.done:
		return nil
	case <-time.After(wait):
	}
	s.cmd.Process.Kill()
	<-s.done
	return fmt.Errorf("prosody (pid %d) did not exit within %v of %v", s.cmd.Process.Pid, wait, sig)
}

// Restart stops Prosody with SIGTERM and starts it again on the same port
// with the same data. The test fails if it cannot.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if err := s.Stop(); err != nil {
		t.Fatalf("prosody stop: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("prosody restart: %v\n%s", err, s.LogTail(60))
	}
}

// Register creates the account user@localhost with password pass and
// returns its bare JID. The test fails if it cannot.
func (s *Server) Register(t testing.TB, user, pass string) string {
	t.Helper()
	j, err := s.AddUser(user, pass)
	if err != nil {
		t.Fatalf("prosody: %v", err)
	}
	return j
}

// AddUser creates the account user@localhost with password pass through
// prosodyctl and returns its bare JID. It works whether or not the server
// is running.
func (s *Server) AddUser(user, pass string) (string, error) {
	cmd := exec.Command("prosodyctl", "--config", s.Config, "register", user, s.Domain, pass)
	cmd.Dir = s.Dir
	out, err := runTimeout(cmd, 30*time.Second)
	if err != nil {
		return "", fmt.Errorf("prosodyctl register %s: %w: %s", user, err, bytes.TrimSpace(out))
	}
	return user + "@" + s.Domain, nil
}

func runTimeout(cmd *exec.Cmd, d time.Duration) ([]byte, error) {
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	timer := time.AfterFunc(d, func() { cmd.Process.Kill() })
	defer timer.Stop()
	err := cmd.Wait()
	return out.Bytes(), err
}

// LogTail returns the last n lines of Prosody's log and console output.
func (s *Server) LogTail(n int) string {
	var b strings.Builder
	for _, f := range []string{s.consoleFile, s.logFile} {
		data, err := os.ReadFile(f)
		if err != nil || len(data) == 0 {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(lines) > n {
			lines = lines[len(lines)-n:]
		}
		fmt.Fprintf(&b, "==> %s <==\n%s\n", filepath.Base(f), strings.Join(lines, "\n"))
	}
	return b.String()
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
