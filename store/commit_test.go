package store

import (
	"testing"
	"time"
)

// TestBatchDue requires a batch to fall due at the first limit it reaches,
// and never while empty, however long it waits.
func TestBatchDue(t *testing.T) {
	for _, c := range []struct {
		name   string
		limits Limits
		ops    int
		bytes  int // grown after the operations
		want   bool
	}{
		{"empty, long past the delay", Limits{Records: 10, Bytes: 100, Delay: time.Nanosecond}, 0, 0, false},
		{"below every limit", Limits{Records: 10, Bytes: 100, Delay: time.Hour}, 9, 99, false},
		{"records reached", Limits{Records: 10, Bytes: 100, Delay: time.Hour}, 10, 0, true},
		{"bytes reached", Limits{Records: 10, Bytes: 100, Delay: time.Hour}, 1, 100, true},
		{"delay passed", Limits{Records: 10, Bytes: 100, Delay: time.Nanosecond}, 1, 0, true},
		{"defaults", Limits{}.orDefault(), 1, 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := batch{limits: c.limits}
			for range c.ops {
				b.op()
			}
			b.grow(c.bytes)
			time.Sleep(time.Microsecond)
			if got := b.due(); got != c.want {
				t.Errorf("due = %v, want %v", got, c.want)
			}
			b.reset()
			if b.due() {
				t.Error("due after reset")
			}
		})
	}
}

// TestWriterDue requires a Writer to count its operations against its
// limits, and to start counting again after a commit.
func TestWriterDue(t *testing.T) {
	db, _ := openTemp(t)
	load(t, db, Position{}, "new 1.-1 Job")
	w := db.NewWriter(Limits{Records: 3, Bytes: 1 << 30, Delay: time.Hour})
	defer w.Rollback()
	for i, want := range []bool{false, false, true} {
		if err := w.SetAttr(Key{1, -1}, []byte("A"), []byte("1")); err != nil {
			t.Fatal(err)
		}
		if got := w.Due(); got != want {
			t.Errorf("after %d operations: Due = %v, want %v", i+1, got, want)
		}
	}
	if err := w.Commit(t.Context(), Position{Offset: 1}); err != nil {
		t.Fatal(err)
	}
	if w.Due() {
		t.Error("due right after a commit")
	}
}

// TestBatchCountsWhatAnAdCosts requires the ads touched to count at the
// learned cost, and the cost to follow the commits: up at once, down by a
// quarter a commit, never above the byte limit.
func TestBatchCountsWhatAnAdCosts(t *testing.T) {
	limits := Limits{Records: 1 << 20, Bytes: 1000, Delay: time.Hour}
	b := batch{limits: limits, adCost: 100}
	for range 9 {
		b.op()
		b.touch()
	}
	if b.due() {
		t.Fatal("due at 9 ads of 100 bytes, limit 1000")
	}
	b.op()
	b.touch()
	if !b.due() {
		t.Fatal("not due at 10 ads of 100 bytes, limit 1000")
	}
	for _, c := range []struct {
		name      string
		ads       int
		pageBytes int64
		want      int
	}{
		{"a dearer commit raises the cost at once", 10, 1000, 200}, // pages and their nodes: 2 × 1000 / 10
		{"a cheaper one lowers it by a quarter", 10, 50, 150},
		{"and again", 10, 50, 113},
		{"but not below what it saw", 10, 500, 100},
		{"never above the limit", 1, 1 << 20, 1000},
		{"a commit of no ad teaches nothing", 0, 1 << 20, 1000},
	} {
		b.reset()
		for range c.ads {
			b.touch()
		}
		b.learn(c.pageBytes)
		if b.adCost != c.want {
			t.Errorf("%s: cost %d, want %d", c.name, b.adCost, c.want)
		}
	}
}
