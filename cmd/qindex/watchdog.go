package main

import (
	"context"
	"fmt"
	"os"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"
)

// A read of a damaged database can loop inside bbolt (a page that names
// itself as its child): its cursor's stack grows without end, and no Go
// code can stop the goroutine doing it. The watchdog bounds the damage: a
// process whose memory passes a ceiling is ended, saying why. Nothing else
// qindex does comes near it: replay and queries keep well under 200 MB.

// Defaults of the watchdog; QINDEX_MAX_MEMORY overrides the first.
const (
	defaultMaxMemory = 4 << 30   // all the memory the Go runtime holds
	maxStacks        = 256 << 20 // goroutine stacks (deep recursion)
	watchEvery       = 50 * time.Millisecond
)

// maxMemory returns the ceiling QINDEX_MAX_MEMORY sets ("4GiB", "512MiB",
// or bytes), or the default.
func maxMemory() (uint64, error) {
	v := strings.TrimSpace(os.Getenv("QINDEX_MAX_MEMORY"))
	if v == "" {
		return defaultMaxMemory, nil
	}
	unit := uint64(1)
	for suffix, u := range map[string]uint64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30} {
		if n, ok := strings.CutSuffix(v, suffix); ok {
			v, unit = n, u
		}
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("QINDEX_MAX_MEMORY=%q: want a size such as 4GiB, 512MiB or a number of bytes", os.Getenv("QINDEX_MAX_MEMORY"))
	}
	return n * unit, nil
}

// watchMemory samples the process's memory every watchEvery until ctx ends,
// and calls exceeded, once, with a description, when it passes ceiling or
// its stacks pass maxStacks.
func watchMemory(ctx context.Context, ceiling uint64, exceeded func(what string)) {
	samples := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/stacks:bytes"}}
	t := time.NewTicker(watchEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		metrics.Read(samples)
		total, stacks := samples[0].Value.Uint64(), samples[1].Value.Uint64()
		switch {
		case total > ceiling:
			exceeded(fmt.Sprintf("its memory passed %d MiB (QINDEX_MAX_MEMORY)", ceiling>>20))
			return
		case stacks > maxStacks:
			exceeded(fmt.Sprintf("its stacks passed %d MiB", maxStacks>>20))
			return
		}
	}
}

// watchdog watches the memory of a command that reads the database at
// dbPath, until the returned stop is called. Past the ceiling it says so on
// e's stderr, calls cleanup (if not nil) and ends the process with status 1.
func watchdog(e env, dbPath string, cleanup func()) (stop func(), err error) {
	ceiling, err := maxMemory()
	if err != nil {
		return nil, usageError{err}
	}
	ctx, cancel := context.WithCancel(context.Background())
	go watchMemory(ctx, ceiling, func(what string) {
		fmt.Fprintf(e.stderr, "qindex: stopping: %s; db %s may be a damaged database whose reading runs away "+
			"(see 'qindex check'), or this is a bug\n", what, dbPath)
		if cleanup != nil {
			cleanup()
		}
		os.Exit(1)
	})
	return cancel, nil
}
