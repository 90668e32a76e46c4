package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// Targets of issue 4.
const (
	targetLatencyOverFloor = 300 * time.Microsecond
	targetDrainRate        = 20000 // runs/s
	targetCPUPerEvent      = 150 * time.Microsecond
	targetIdleRSS          = 30 << 20
)

// Results are the measurements of one run.
type Results struct {
	Started   time.Time
	CPUs      int
	Load      string // load averages at the start → at the end
	Rate      int
	Sizes     sizes
	HookID    string
	RSSOnline memory // right after the bot came online, no hook yet
	RSSIdle   memory // with the hook, after the warm-up, idle for 4 s
	RSSAfter  memory // after every phase, idle for 1 s
	Paced     Paced
	Burst     Burst
	Drain     Drain

	// The floor process's RSS, read right after the bot's.
	FloorRSSOnline memory
	FloorRSSIdle   memory
	FloorRSSAfter  memory

	// CPUBurstDrain is the bot's CPU time per event over the burst and
	// drain phases together.
	CPUBurstDrain time.Duration
	// FloorCPUBurstDrain is the same for the floor process.
	FloorCPUBurstDrain time.Duration
	Dups               int     // items the hook ran more than once
	IdleCPU            float64 // the bot's CPU seconds per second with nothing to do
	FloorIdleCPU       float64 // the same for the floor
}

// Paced is the paced phase.
type Paced struct {
	Items, Runs, AtFloor int
	Rate                 float64 // achieved publish rate
	Bot                  summary // publish → hook run
	BotReceive           summary // publish → the bot received it (Item.Time)
	Floor                summary // publish → the floor received it
	CPUPerEvent          time.Duration
	CPUTotal             time.Duration
	CPUSys               time.Duration // of which in the kernel
	FloorCPUPerEvent     time.Duration // the floor process's CPU time per event
	FloorCPUTotal        time.Duration
	ProsodyCPU           time.Duration // Prosody's CPU time per event
}

// Burst is the full-speed phase.
type Burst struct {
	Items, Runs, AtFloor int
	PublishRate          float64
	FloorSpan, BotSpan   time.Duration // first publish → last receipt / last run
	Lag                  time.Duration // last run − floor's last receipt
	Reordered            int
	Bot, Floor           summary
	KeptUp               bool
}

// Drain is the backlog phase.
type Drain struct {
	Items, Runs int
	Early       int           // runs seen while the bot was stopped (0 expected)
	First       time.Duration // SIGCONT → first run
	Total       time.Duration // SIGCONT → last run
	RunsPerSec  float64
	Reordered   int
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond)) }
func mb(n int64) string         { return fmt.Sprintf("%.1f MB", float64(n)/(1<<20)) }

// rss is "total (anon + file)".
func rss(m memory) string { return mb(m.rss) + " (" + mb(m.anon) + " + " + mb(m.file) + ")" }

// times is the ratio bot ÷ floor as "×N.N", or "" without a floor value.
func times(bot, floor float64) string {
	if floor <= 0 {
		return ""
	}
	return fmt.Sprintf("×%.1f", bot/floor)
}

// overFloor is the bot − floor cell of a CPU or memory row: the
// difference, then the ratio bot ÷ floor.
func overFloor(diff string, bot, floor float64) string {
	if r := times(bot, floor); r != "" {
		return diff + " (" + r + ")"
	}
	return diff
}

func verdict(ok bool, miss string) string {
	if ok {
		return "met"
	}
	return "MISSED " + miss
}

// Print writes the results as a table.
func (r *Results) Print(w io.Writer) {
	fmt.Fprintf(w, "hookbot end-to-end bench, %s, %d CPUs, load %s\n", r.Started.UTC().Format("2006-01-02 15:04 MST"), r.CPUs, r.Load)
	fmt.Fprintf(w, "items: warm-up %d, paced %d at %d/s, burst %d, backlog %d\n\n", r.Sizes.warmup, r.Sizes.paced, r.Rate, r.Sizes.burst, r.Sizes.backlog)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(cells ...string) { fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t") }
	p, b, d := r.Paced, r.Burst, r.Drain
	diff50 := p.Bot.P50 - p.Floor.P50
	row("measure", "bot", "floor", "bot − floor", "target", "verdict")
	row("paced publish rate", fmt.Sprintf("%.0f/s", p.Rate), "", "", "", "")
	row("paced runs / received", fmt.Sprintf("%d/%d", p.Runs, p.Items), fmt.Sprintf("%d/%d", p.AtFloor, p.Items), "", "", "")
	row("latency p50 (publish→run)", ms(p.Bot.P50), ms(p.Floor.P50), ms(diff50), "≤ floor + 0.300 ms",
		verdict(diff50 <= targetLatencyOverFloor, "by "+ms(diff50-targetLatencyOverFloor)))
	row("latency p99", ms(p.Bot.P99), ms(p.Floor.P99), ms(p.Bot.P99-p.Floor.P99), "", "")
	row("latency max", ms(p.Bot.Max), ms(p.Floor.Max), "", "", "")
	row("bot receive p50 / p99", ms(p.BotReceive.P50)+" / "+ms(p.BotReceive.P99), "", "", "", "")
	row("burst publish rate", fmt.Sprintf("%.0f/s", b.PublishRate), "", "", "", "")
	row("burst runs / received", fmt.Sprintf("%d/%d", b.Runs, b.Items), fmt.Sprintf("%d/%d", b.AtFloor, b.Items), "", "", "")
	row("burst span (→ last)", ms(b.BotSpan), ms(b.FloorSpan), ms(b.Lag), fmt.Sprintf("≤ floor + %v", keepUpSlack), verdict(b.KeptUp, "(see runs, lag, reordered)"))
	row("burst latency p50 / p99", ms(b.Bot.P50)+" / "+ms(b.Bot.P99), ms(b.Floor.P50)+" / "+ms(b.Floor.P99), "", "", "")
	row("burst reordered", fmt.Sprint(b.Reordered), "", "", "0", verdict(b.Reordered == 0, fmt.Sprint("by ", b.Reordered)))
	row("drain runs", fmt.Sprintf("%d/%d (%d early)", d.Runs, d.Items, d.Early), "", "", "", "")
	row("drain SIGCONT→first / last", ms(d.First)+" / "+ms(d.Total), "", "", "", "")
	row("drain rate", fmt.Sprintf("%.0f runs/s", d.RunsPerSec), "", "", fmt.Sprintf("≥ %d runs/s", targetDrainRate),
		verdict(d.RunsPerSec >= targetDrainRate && d.Runs == d.Items, fmt.Sprintf("by %.0f runs/s", targetDrainRate-d.RunsPerSec)))
	row("drain reordered", fmt.Sprint(d.Reordered), "", "", "0", verdict(d.Reordered == 0, fmt.Sprint("by ", d.Reordered)))
	cpu := func(bot, floor time.Duration) string {
		return overFloor(ms(bot-floor), float64(bot), float64(floor))
	}
	mem := func(bot, floor memory) string {
		return overFloor(mb(bot.rss-floor.rss), float64(bot.rss), float64(floor.rss))
	}
	row("CPU per event (paced)", ms(p.CPUPerEvent), ms(p.FloorCPUPerEvent), cpu(p.CPUPerEvent, p.FloorCPUPerEvent), "≤ 0.150 ms",
		verdict(p.CPUPerEvent <= targetCPUPerEvent, "by "+ms(p.CPUPerEvent-targetCPUPerEvent)))
	row("CPU per event (burst+drain)", ms(r.CPUBurstDrain), ms(r.FloorCPUBurstDrain), cpu(r.CPUBurstDrain, r.FloorCPUBurstDrain), "", "")
	row("CPU idle (hook loaded)", fmt.Sprintf("%.1f%% of a core", 100*r.IdleCPU), fmt.Sprintf("%.1f%% of a core", 100*r.FloorIdleCPU), "", "", "")
	row("Prosody CPU per event (paced)", ms(p.ProsodyCPU), "", "", "", "")
	row("RSS online, no hook (anon + file)", rss(r.RSSOnline), rss(r.FloorRSSOnline), mem(r.RSSOnline, r.FloorRSSOnline), "", "")
	row("RSS idle, hook warmed up (anon + file)", rss(r.RSSIdle), rss(r.FloorRSSIdle), mem(r.RSSIdle, r.FloorRSSIdle), "≤ 30 MB",
		verdict(r.RSSIdle.rss <= targetIdleRSS, "by "+mb(r.RSSIdle.rss-targetIdleRSS)))
	row("RSS after phases / peak", mb(r.RSSAfter.rss)+" / "+mb(r.RSSAfter.peak), mb(r.FloorRSSAfter.rss)+" / "+mb(r.FloorRSSAfter.peak), "", "", "")
	row("duplicate runs", fmt.Sprint(r.Dups), "", "", "0", verdict(r.Dups == 0, fmt.Sprint("by ", r.Dups)))
	tw.Flush()
	fmt.Fprintf(w, "\nThe floor is a separate process, a bare mellium session; (×N.N) is bot ÷ floor.\n")
	fmt.Fprintf(w, "CPU times come from /proc/PID/stat (10 ms ticks): bot %s over the %d paced events, %s of it in the kernel; floor %s.\n", p.CPUTotal, p.Items, p.CPUSys, p.FloorCPUTotal)
}

func cpus() int { return runtime.NumCPU() }

// loadavg returns the 1, 5 and 15 minute load averages.
func loadavg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
