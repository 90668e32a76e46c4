package stdsyms

import (
	"errors"
	"io"
	"log"
	"os"
	"strconv"
)

// yaegi's extractor writes these names instead of os.Exit, os.FindProcess,
// log.Fatal*, log.New and log.Logger, so that interpreted code cannot
// end the process that runs it.

// osExit panics instead of exiting.
func osExit(code int) { panic("os.Exit(" + strconv.Itoa(code) + ")") }

var errRestricted = errors.New("restricted")

// osFindProcess is os.FindProcess, except that it refuses the process
// itself.
func osFindProcess(pid int) (*os.Process, error) {
	if pid == os.Getpid() {
		return nil, errRestricted
	}
	return os.FindProcess(pid)
}

// logFatal, logFatalf and logFatalln panic instead of exiting.
func logFatal(v ...interface{})                 { log.Panic(v...) }
func logFatalf(format string, v ...interface{}) { log.Panicf(format, v...) }
func logFatalln(v ...interface{})               { log.Panicln(v...) }

// logLogger is log.Logger as interpreted code sees it: its Fatal methods
// panic instead of exiting.
type logLogger struct {
	l *log.Logger
}

// logNew is log.New for interpreted code.
func logNew(out io.Writer, prefix string, flag int) *logLogger {
	return &logLogger{l: log.New(out, prefix, flag)}
}

func (l *logLogger) Fatal(v ...interface{})                 { l.l.Panic(v...) }
func (l *logLogger) Fatalf(format string, v ...interface{}) { l.l.Panicf(format, v...) }
func (l *logLogger) Fatalln(v ...interface{})               { l.l.Panicln(v...) }
func (l *logLogger) Flags() int                             { return l.l.Flags() }
func (l *logLogger) Output(calldepth int, s string) error   { return l.l.Output(calldepth, s) }
func (l *logLogger) Panic(v ...interface{})                 { l.l.Panic(v...) }
func (l *logLogger) Panicf(format string, v ...interface{}) { l.l.Panicf(format, v...) }
func (l *logLogger) Panicln(v ...interface{})               { l.l.Panicln(v...) }
func (l *logLogger) Prefix() string                         { return l.l.Prefix() }
func (l *logLogger) Print(v ...interface{})                 { l.l.Print(v...) }
func (l *logLogger) Printf(format string, v ...interface{}) { l.l.Printf(format, v...) }
func (l *logLogger) Println(v ...interface{})               { l.l.Println(v...) }
func (l *logLogger) SetFlags(flag int)                      { l.l.SetFlags(flag) }
func (l *logLogger) SetOutput(w io.Writer)                  { l.l.SetOutput(w) }
func (l *logLogger) SetPrefix(prefix string)                { l.l.SetPrefix(prefix) }
func (l *logLogger) Writer() io.Writer                      { return l.l.Writer() }
