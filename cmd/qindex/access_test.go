package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// asNobody returns this test binary, copied where any user may run it,
// set up to run as the qindex command under the nobody account; the test
// is skipped where it cannot switch users.
func asNobody(t *testing.T, dir string, args ...string) *exec.Cmd {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("switching users needs root")
	}
	bin := filepath.Join(dir, "qindex")
	if _, err := os.Stat(bin); err != nil {
		src, err := os.Open(os.Args[0])
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(dst, src); err != nil {
			t.Fatal(err)
		}
		dst.Close()
	}
	cmd := exec.Command(bin, args...)
	cmd.Args[0] = "qindex"
	cmd.Env = append(os.Environ(), "QINDEX_TEST_MAIN=1", "QINDEX_ONLY_MY_JOBS=false")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	return cmd
}

// openDir makes dir and its parent (t.TempDir's) traversable by everyone.
func openDir(t *testing.T, dir string) {
	t.Helper()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSharedWithLocalUsers: another local user queries through the
// daemon's socket, and reads the file when no daemon runs; a restricted
// mode refuses them both.
func TestSharedWithLocalUsers(t *testing.T) {
	dir := t.TempDir()
	openDir(t, dir)
	log, db := filepath.Join(dir, "job_queue.log"), filepath.Join(dir, "q.db")
	copyFixture(t, "queue.log", log)
	want, _ := os.ReadFile(filepath.Join("..", "..", "testdata", "golden", "af.txt"))
	query := func() (string, error) {
		cmd := asNobody(t, dir, "q", "--db", db, "-allusers", "--af", "ClusterId,ProcId,Owner,JobStatus,Cmd,Args,HoldReason")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return stderr.String(), err
		}
		return string(out), nil
	}

	d := startDaemon(t, log, db, 20*time.Millisecond)
	waitFor(t, "the first load", func() bool { return loaded(t, status(t, db), log) })
	if got, err := query(); err != nil || got != string(want) {
		t.Errorf("another user through the socket: %v: %s", err, got)
	}
	d.stop(t)
	if got, err := query(); err != nil || got != string(want) {
		t.Errorf("another user from the file: %v: %s", err, got)
	}

	d = startDaemonWith(t, serveOptions{log: log, db: db, poll: 20 * time.Millisecond, access: access{mode: 0o600}})
	waitFor(t, "the daemon", func() bool { return status(t, db).Daemon != nil })
	for _, path := range []string{db, socketPath(db)} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v under --access.mode 0600", path, err, fi.Mode())
		}
	}
	if got, err := query(); err == nil || !strings.Contains(got, "permission denied") {
		t.Errorf("another user under --access.mode 0600, through the socket: %v: %s", err, got)
	}
	d.stop(t)
	if got, err := query(); err == nil || !strings.Contains(got, "permission denied") {
		t.Errorf("another user under --access.mode 0600, from the file: %v: %s", err, got)
	}
}

func TestAccessFlags(t *testing.T) {
	for _, tt := range []struct {
		mode, group string
		want        access
		err         string
	}{
		{"0644", "", access{mode: 0o644}, ""},
		{"640", "0", access{mode: 0o640, gid: 0, grouped: true}, ""},
		{"0400", "", access{}, "0600 at least"},
		{"rw-r--r--", "", access{}, "not an octal mode"},
		{"01644", "", access{}, "not an octal mode"},
		{"0640", "no-such-group-here", access{}, "--access.group"},
	} {
		got, err := parseAccess(tt.mode, tt.group)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s %s: %v, want an error saying %q", tt.mode, tt.group, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s %s: %+v %v, want %+v", tt.mode, tt.group, got, err, tt.want)
		}
	}
	if m := (access{mode: 0o640}).socketMode(); m != 0o660 {
		t.Errorf("socket of 0640: %o, want 0660", m)
	}
	if m := (access{}).socketMode(); m != 0o666 {
		t.Errorf("socket by default: %o, want 0666", m)
	}
}
