// Package fileinfo names files for what they are and reads regular files
// without blocking on the others: a FIFO, a terminal or a device given
// where a file belongs is an error that says so, never a hang.
package fileinfo

import (
	"fmt"
	"io"
	"os"
	"syscall"
)

// Kind names what a file of mode m is: "a directory", "a FIFO", "a
// character device", …
func Kind(m os.FileMode) string {
	switch {
	case m.IsRegular():
		return "a regular file"
	case m.IsDir():
		return "a directory"
	case m&os.ModeSymlink != 0:
		return "a symbolic link"
	case m&os.ModeNamedPipe != 0:
		return "a FIFO (named pipe)"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeCharDevice != 0:
		return "a character device"
	case m&os.ModeDevice != 0:
		return "a block device"
	}
	return "a special file"
}

// NotRegular is the error for a file that is not a regular one.
type NotRegular struct {
	Path string
	Mode os.FileMode
}

func (e *NotRegular) Error() string {
	return fmt.Sprintf("%s is %s, not a regular file", e.Path, Kind(e.Mode))
}

// OpenRegular opens path for reading, without blocking when it is a FIFO,
// and returns it only when it is a regular file (a symbolic link to one
// counts). Any other kind is a *NotRegular.
func OpenRegular(path string) (*os.File, os.FileInfo, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, nil, &NotRegular{Path: path, Mode: st.Mode()}
	}
	// Reads of a regular file never block; clear O_NONBLOCK all the same.
	syscall.SetNonblock(int(f.Fd()), false)
	return f, st, nil
}

// ReadRegular reads a regular file of at most max bytes.
func ReadRegular(path string, max int64) ([]byte, error) {
	f, st, err := OpenRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st.Size() > max {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d a file here may have", path, st.Size(), max)
	}
	return io.ReadAll(io.LimitReader(f, max+1))
}
