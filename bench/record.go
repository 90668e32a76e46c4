package main

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// receipts are the times the floor received each item (the first time).
type receipts struct {
	mu sync.Mutex
	at map[string]time.Time
}

func newReceipts() *receipts {
	return &receipts{at: make(map[string]time.Time)}
}

// record notes that the floor received id at t; only the first receipt
// of an id counts. The reader of the floor's output calls it.
func (r *receipts) record(id string, t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.at[id]; !dup {
		r.at[id] = t
	}
}

// get returns the receive times of ids (zero when not received).
func (r *receipts) get(ids []string) []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]time.Time, len(ids))
	for i, id := range ids {
		out[i] = r.at[id]
	}
	return out
}

// count returns how many of ids were received.
func (r *receipts) count(ids []string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, id := range ids {
		if _, ok := r.at[id]; ok {
			n++
		}
	}
	return n
}

// run is one line the hook wrote.
type run struct {
	id       string
	ran      time.Time // when the hook ran
	received time.Time // when the bot received the notification (Item.Time)
}

// runLog reads the hook's run file as it grows.
type runLog struct {
	file   string
	offset int64
	rest   []byte // an incomplete last line
	runs   []run  // every run, in file (= run) order
	byID   map[string]int
	dups   int
}

func newRunLog(file string) *runLog {
	return &runLog{file: file, byID: make(map[string]int)}
}

// poll reads what was appended since the last poll. A missing file is
// no runs yet.
func (l *runLog) poll() error {
	f, err := os.Open(l.file)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Seek(l.offset, io.SeekStart); err != nil {
		return err
	}
	data, err := io.ReadAll(bufio.NewReader(f))
	if err != nil {
		return err
	}
	l.offset += int64(len(data))
	data = append(l.rest, data...)
	end := bytes.LastIndexByte(data, '\n')
	if end < 0 {
		l.rest = data
		return nil
	}
	l.rest = append([]byte(nil), data[end+1:]...)
	for _, line := range strings.Split(string(data[:end]), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		ran, err1 := strconv.ParseInt(f[1], 10, 64)
		recv, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		if _, dup := l.byID[f[0]]; dup {
			l.dups++
			continue
		}
		l.byID[f[0]] = len(l.runs)
		l.runs = append(l.runs, run{id: f[0], ran: time.Unix(0, ran), received: time.Unix(0, recv)})
	}
	return nil
}

// count returns how many of ids ran.
func (l *runLog) count(ids []string) int {
	n := 0
	for _, id := range ids {
		if _, ok := l.byID[id]; ok {
			n++
		}
	}
	return n
}

// get returns the runs of ids (zero when not run) and, for each, its
// position in run order (-1 when not run).
func (l *runLog) get(ids []string) ([]run, []int) {
	runs := make([]run, len(ids))
	pos := make([]int, len(ids))
	for i, id := range ids {
		p, ok := l.byID[id]
		if !ok {
			pos[i] = -1
			continue
		}
		runs[i], pos[i] = l.runs[p], p
	}
	return runs, pos
}
