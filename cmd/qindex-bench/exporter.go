package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// exporterFigures measures the daemon serving db: the duration of its
// background collections, as it reports them, and the latency of
// scrapers concurrent scrapes.
func exporterFigures(bin, log, db string, runs, scrapers int) error {
	// Collections every second, to see several.
	cmd, url, err := startExporter(bin, log, db, "1s")
	if err != nil {
		return err
	}
	// Each collection's duration, as the daemon reports it.
	var collections []time.Duration
	var last float64
	deadline := time.Now().Add(time.Minute)
	for len(collections) < max(runs, 5) && time.Now().Before(deadline) {
		m, err := scrapeValues(url)
		if err != nil {
			return err
		}
		if n := m["qindex_collector_collections_total"]; n > last && m["qindex_collector_last_duration_seconds"] > 0 {
			last = n
			collections = append(collections, time.Duration(m["qindex_collector_last_duration_seconds"]*float64(time.Second)))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(collections) == 0 {
		return fmt.Errorf("the daemon reported no collection")
	}
	fmt.Printf("%-46s %9.1f ms   (qindex_collector_last_duration_seconds, 1 s interval; runs: %s)\n",
		"metrics collection", ms(median(collections)), durations(collections))
	if err := stopServe(cmd); err != nil {
		return err
	}

	// The default interval: the scrapes fall between two collections.
	cmd, url, err = startExporter(bin, log, db, "30s")
	if err != nil {
		return err
	}
	defer stopServe(cmd)
	for m := map[string]float64{}; m["qindex_collector_collections_total"] < 1; time.Sleep(10 * time.Millisecond) {
		if m, err = scrapeValues(url); err != nil {
			return err
		}
	}

	// Scrapes at once, as Prometheus asks (gzip), rounds apart.
	concurrent := scrapers
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrent, DisableCompression: true}}
	var lat []time.Duration
	var mu sync.Mutex
	var failed error
	for range max(runs, 5) * 400 / concurrent {
		var wg sync.WaitGroup
		for range concurrent {
			wg.Go(func() {
				start := time.Now()
				req, _ := http.NewRequest("GET", url, nil)
				req.Header.Set("Accept-Encoding", "gzip")
				resp, err := client.Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				d := time.Since(start)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					failed = err
				}
				lat = append(lat, d)
			})
		}
		wg.Wait()
		time.Sleep(200 * time.Millisecond)
	}
	if failed != nil {
		return failed
	}
	slices.Sort(lat)
	fmt.Printf("%-46s %9.1f ms p99   (p50 %.1f ms, max %.1f ms; %d scrapes, %d at a time, gzip)\n",
		fmt.Sprintf("%d concurrent scrapes", concurrent), ms(lat[len(lat)*99/100]), ms(lat[len(lat)/2]), ms(lat[len(lat)-1]), len(lat), concurrent)
	return nil
}

// startExporter starts the daemon with the given --collect-interval and
// returns it and its metrics URL once it is caught up.
func startExporter(bin, log, db, interval string) (*exec.Cmd, string, error) {
	cmd, _, err := startServe(bin, log, db, time.Second, "--collect-interval", interval)
	if err != nil {
		return nil, "", err
	}
	var url string
	err = waitStatus(bin, db, time.Minute, func(st status) bool {
		if st.Daemon != nil && st.Daemon.Metrics != "" && st.LagBytes == 0 {
			url = st.Daemon.Metrics
			return true
		}
		return false
	})
	if err != nil {
		stopServe(cmd)
		return nil, "", err
	}
	return cmd, url, nil
}

// scrapeValues returns the unlabelled series served at url.
func scrapeValues(url string) (map[string]float64, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && !strings.HasPrefix(f[0], "#") {
			if v, err := strconv.ParseFloat(f[1], 64); err == nil {
				out[f[0]] = v
			}
		}
	}
	return out, sc.Err()
}
