package main

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"strconv"
)

// access is who may read the daemon's database and use its socket: the
// file's permissions (0: defaultMode), and the group it is given, if
// grouped. The zero access is the default.
type access struct {
	mode    fs.FileMode
	gid     int
	grouped bool
}

// defaultMode lets every local user query, as condor_q does.
const defaultMode fs.FileMode = 0o644

// parseAccess reads --access.mode (octal) and --access.group (a name or a
// number; empty for none).
func parseAccess(mode, group string) (access, error) {
	m, err := strconv.ParseUint(mode, 8, 32)
	if err != nil || m&^0o777 != 0 {
		return access{}, usagef("serve: --access.mode %q is not an octal mode like 0644", mode)
	}
	if m&0o600 != 0o600 {
		return access{}, usagef("serve: --access.mode %q must let the daemon's user read and write (0600 at least)", mode)
	}
	a := access{mode: fs.FileMode(m)}
	if group == "" {
		return a, nil
	}
	a.grouped = true
	if n, err := strconv.Atoi(group); err == nil && n >= 0 {
		a.gid = n
		return a, nil
	}
	g, err := user.LookupGroup(group)
	if err != nil {
		return access{}, usagef("serve: --access.group: %v", err)
	}
	a.gid, _ = strconv.Atoi(g.Gid)
	return a, nil
}

// fileMode is the database's permissions; the zero access is the default.
func (a access) fileMode() fs.FileMode {
	if a.mode == 0 {
		return defaultMode
	}
	return a.mode
}

// socketMode is the socket's: whoever may read the database may connect
// (connecting to a unix socket takes write permission).
func (a access) socketMode() fs.FileMode {
	r := a.fileMode() & 0o444
	return r | r>>1
}

// apply gives the file at path the database's permissions and group.
func (a access) apply(path string) error { return a.set(path, a.fileMode()) }

// set gives path mode and the group.
func (a access) set(path string, mode fs.FileMode) error {
	if err := os.Chmod(path, mode); err != nil {
		return fmt.Errorf("access: %w", err)
	}
	if a.grouped {
		if err := os.Chown(path, -1, a.gid); err != nil {
			return fmt.Errorf("access: %w", err)
		}
	}
	return nil
}
