package store

import (
	"os"

	"golang.org/x/sys/unix"
)

// adviseWillNeed asks the kernel to read n bytes of f at off into the page
// cache in the background.
func adviseWillNeed(f *os.File, off, n int64) {
	unix.Fadvise(int(f.Fd()), off, n, unix.FADV_WILLNEED)
}
