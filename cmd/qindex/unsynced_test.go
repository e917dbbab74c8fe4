package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLastUnsynced reads markers as a starting daemon meets them: none, its
// own kind, and hostile ones (garbage, a huge file, an endless one), which
// must read as "found, from an unknown boot" without reading them whole.
func TestLastUnsynced(t *testing.T) {
	since := time.Date(2026, 11, 24, 6, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name  string
		make  func(t *testing.T, db string)
		found bool
		boot  string
		pid   int
	}{
		{"none", func(t *testing.T, db string) {}, false, "", 0},
		{"written by markUnsynced", func(t *testing.T, db string) {
			if err := markUnsynced(db, unsynced{PID: 42, Boot: "b1", Since: since}); err != nil {
				t.Fatal(err)
			}
		}, true, "b1", 42},
		{"garbage", func(t *testing.T, db string) {
			os.WriteFile(unsyncedPath(db), []byte("\x00{\"boot\":"), 0o644)
		}, true, "", 0},
		{"a valid marker padded past the limit", func(t *testing.T, db string) {
			os.WriteFile(unsyncedPath(db), []byte(`{"pid":42,"boot":"b1"}`+strings.Repeat(" ", 1<<20)), 0o644)
		}, true, "", 0},
		{"endless", func(t *testing.T, db string) {
			if err := os.Symlink("/dev/zero", unsyncedPath(db)); err != nil {
				t.Skip(err)
			}
		}, true, "", 0},
		{"a directory", func(t *testing.T, db string) { os.Mkdir(unsyncedPath(db), 0o755) }, true, "", 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "q.db")
			tt.make(t, db)
			u, found := lastUnsynced(db)
			if found != tt.found || u.Boot != tt.boot || u.PID != tt.pid {
				t.Errorf("got %+v, %v; want boot %q pid %d, %v", u, found, tt.boot, tt.pid, tt.found)
			}
			if _, err := os.Stat(unsyncedPath(db) + ".tmp"); err == nil {
				t.Error("markUnsynced left its temporary file")
			}
		})
	}
}
