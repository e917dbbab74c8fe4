//go:build !linux

package store

import "os"

// adviseWillNeed does nothing where fadvise is not available.
func adviseWillNeed(f *os.File, off, n int64) {}
