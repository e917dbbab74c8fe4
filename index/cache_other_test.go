//go:build !linux

package index

import (
	"errors"
	"os"
)

// dropCache is not available here: the benchmark's reread variant is
// skipped.
func dropCache(*os.File) error { return errors.New("not supported on this system") }
