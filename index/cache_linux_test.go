package index

import (
	"os"
	"syscall"
)

// dropCache evicts f's clean pages from the page cache
// (posix_fadvise POSIX_FADV_DONTNEED).
func dropCache(f *os.File) error {
	const fadvDontNeed = 4
	if _, _, errno := syscall.Syscall6(syscall.SYS_FADVISE64, f.Fd(), 0, 0, fadvDontNeed, 0, 0); errno != 0 {
		return errno
	}
	return nil
}
