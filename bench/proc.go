package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is USER_HZ, the unit of utime and stime in /proc/PID/stat:
// 100 on every Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

// procStat is what the bench reads from /proc/PID/stat.
type procStat struct {
	state byte          // R, S, T (stopped), …
	cpu   time.Duration // utime + stime
	sys   time.Duration // stime: in the kernel on the process's behalf
}

func readStat(pid int) (procStat, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	// The command name, field 2, is in parentheses and may hold spaces.
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(data[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return procStat{}, fmt.Errorf("/proc/%d/stat: bad utime/stime %q %q", pid, f[11], f[12])
	}
	return procStat{state: f[0][0], cpu: time.Duration(ut+st) * clockTick, sys: time.Duration(st) * clockTick}, nil
}

// readStats reads /proc/PID/stat of each of pids, one after the other.
func readStats(pids ...int) ([]procStat, error) {
	out := make([]procStat, len(pids))
	for i, pid := range pids {
		st, err := readStat(pid)
		if err != nil {
			return nil, err
		}
		out[i] = st
	}
	return out, nil
}

// memory is the resident set of a process, from /proc/PID/status.
type memory struct {
	rss, peak  int64 // VmRSS and VmHWM, bytes
	anon, file int64 // RssAnon (heap, stacks) and RssFile (mapped binary), bytes
}

func readMemory(pid int) (memory, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memory{}, err
	}
	defer f.Close()
	var m memory
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		var dst *int64
		switch k {
		case "VmRSS":
			dst = &m.rss
		case "VmHWM":
			dst = &m.peak
		case "RssAnon":
			dst = &m.anon
		case "RssFile":
			dst = &m.file
		default:
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return memory{}, fmt.Errorf("/proc/%d/status %s: %w", pid, k, err)
		}
		*dst = kb * 1024
	}
	if err := sc.Err(); err != nil {
		return memory{}, err
	}
	if m.rss == 0 {
		return memory{}, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
	}
	return m, nil
}
