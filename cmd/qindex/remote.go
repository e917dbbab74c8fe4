package main

// The daemon holds the db file open for writing, and bbolt's lock keeps
// every other process out. While it runs, 'qindex q' and 'qindex status'
// ask it instead, over a unix socket beside the db file (mode 0600):
//
//	client: one JSON request line
//	daemon: frames of [kind byte][uint32 big-endian length][payload]
//	        kind 'o' stdout bytes, 'e' stderr bytes,
//	        'x' the end: a JSON exitFrame
//
// The daemon runs the very code the client would run on the file
// (queryRequest.run, buildStatus) against its own db handle, so answers
// are identical, from one consistent read transaction.

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/qindex/qindex/store"
)

// socketPath returns the path of the socket of the daemon serving dbPath.
func socketPath(dbPath string) string { return dbPath + ".sock" }

// request is what a client asks the daemon.
type request struct {
	Command string        `json:"command"` // "q" or "status"
	Query   *queryRequest `json:"query,omitempty"`
}

// exitFrame ends a response: the exit status the command would have, and
// its error message.
type exitFrame struct {
	Code  int    `json:"code"`
	Error string `json:"error,omitempty"`
}

const (
	frameStdout = 'o'
	frameStderr = 'e'
	frameExit   = 'x'
)

// Timeouts of the exchange: a daemon that does not accept, or goes quiet
// for idleTimeout in the middle of an answer, is reported, never waited
// on forever.
const (
	dialTimeout = 2 * time.Second
	idleTimeout = 60 * time.Second
)

// lockWait bounds the wait for a daemon that holds the file but does not
// answer on its socket yet (it is starting).
const lockWait = 10 * time.Second

// withDB answers req through the daemon serving dbPath when one runs, else
// calls local with the file opened read-only.
func withDB(ctx context.Context, dbPath string, req request, e env, local func(*store.DB) error) error {
	deadline := time.Now().Add(lockWait)
	for {
		if ok, err := callDaemon(ctx, dbPath, req, e); ok {
			return err
		}
		// One attempt at the lock: a daemon holding it will have its
		// socket up in a moment.
		db, err := store.Open(dbPath, store.Options{ReadOnly: true, Timeout: time.Nanosecond})
		if err == nil {
			defer db.Close()
			return local(db)
		}
		if !errors.Is(err, store.ErrLocked) || time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// callDaemon sends req to the daemon serving dbPath and copies its answer
// to e's outputs. ok is false when no daemon listens there (no socket, or
// a stale one): the caller then reads the file itself.
func callDaemon(ctx context.Context, dbPath string, req request, e env) (ok bool, err error) {
	path := socketPath(dbPath)
	d := net.Dialer{Timeout: dialTimeout}
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) {
			return false, nil
		}
		return true, fmt.Errorf("ask the daemon at %s: %w", path, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	b, err := json.Marshal(req)
	if err != nil {
		return true, err
	}
	conn.SetDeadline(time.Now().Add(idleTimeout))
	if _, err := conn.Write(append(b, '\n')); err != nil {
		return true, fmt.Errorf("ask the daemon at %s: %w", path, err)
	}
	r := bufio.NewReaderSize(conn, 1<<16)
	var hdr [5]byte
	var buf []byte
	for {
		conn.SetReadDeadline(time.Now().Add(idleTimeout))
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if ctx.Err() != nil {
				return true, ctx.Err()
			}
			return true, fmt.Errorf("the daemon at %s: answer cut short: %w", path, err)
		}
		n := binary.BigEndian.Uint32(hdr[1:])
		if n > 1<<24 {
			return true, fmt.Errorf("the daemon at %s: malformed answer", path)
		}
		buf = append(buf[:0], make([]byte, n)...)
		if _, err := io.ReadFull(r, buf); err != nil {
			return true, fmt.Errorf("the daemon at %s: answer cut short: %w", path, err)
		}
		switch hdr[0] {
		case frameStdout:
			e.stdout.Write(buf)
		case frameStderr:
			e.stderr.Write(buf)
		case frameExit:
			var x exitFrame
			if err := json.Unmarshal(buf, &x); err != nil {
				return true, fmt.Errorf("the daemon at %s: malformed answer: %w", path, err)
			}
			switch {
			case x.Code == 0:
				return true, nil
			case x.Code == 2:
				return true, usageError{errors.New(x.Error)}
			}
			return true, errors.New(x.Error)
		default:
			return true, fmt.Errorf("the daemon at %s: malformed answer (frame %q)", path, hdr[0])
		}
	}
}

// frameWriter sends what is written to it as frames of one kind.
type frameWriter struct {
	mu   *sync.Mutex
	conn net.Conn // its write deadline moves with each write
	w    io.Writer
	kind byte
	err  error
}

func (f *frameWriter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return 0, f.err
	}
	f.conn.SetWriteDeadline(time.Now().Add(idleTimeout))
	written := len(p)
	for len(p) > 0 {
		n := min(len(p), 1<<20)
		var hdr [5]byte
		hdr[0] = f.kind
		binary.BigEndian.PutUint32(hdr[1:], uint32(n))
		if _, f.err = f.w.Write(hdr[:]); f.err == nil {
			_, f.err = f.w.Write(p[:n])
		}
		if f.err != nil {
			return 0, f.err
		}
		p = p[n:]
	}
	return written, nil
}

// handler answers one request, writing as the command would to stdout and
// stderr.
type handler func(ctx context.Context, req request, stdout, stderr io.Writer) error

// socketServer answers requests on the daemon's unix socket.
type socketServer struct {
	ln     net.Listener
	path   string
	handle handler
	logger *slog.Logger
	wg     sync.WaitGroup
}

// maxConcurrent bounds the requests answered at once; more wait.
const maxConcurrent = 16

// listenSocket creates the socket at path, readable and writable by its
// owner only. A socket file left by a daemon that was killed is replaced:
// the caller holds the db lock, so no other daemon can be using it.
func listenSocket(path string, h handler, logger *slog.Logger) (*socketServer, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&fs.ModeSocket == 0 {
			return nil, fmt.Errorf("socket %s: a file that is not a socket is in the way", path)
		}
		os.Remove(path)
	}
	// Listen under a private name, restrict it, then give it its name: no
	// one can connect before the mode is right.
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	os.Remove(tmp)
	ln, err := net.Listen("unix", tmp)
	if err != nil {
		return nil, fmt.Errorf("socket %s: %w", path, err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	if err := os.Chmod(tmp, 0o600); err != nil {
		ln.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("socket %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		ln.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("socket %s: %w", path, err)
	}
	return &socketServer{ln: ln, path: path, handle: h, logger: logger}, nil
}

// serve answers connections until ctx ends, then waits for the requests
// in progress, and removes the socket.
func (s *socketServer) serve(ctx context.Context) {
	stop := context.AfterFunc(ctx, func() { s.ln.Close() })
	defer stop()
	sem := make(chan struct{}, maxConcurrent)
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			if ctx.Err() == nil {
				s.logger.Error("socket: accept failed", "socket", s.path, "err", err)
				s.ln.Close()
			}
			break
		}
		sem <- struct{}{}
		s.wg.Add(1)
		go func() {
			defer func() { <-sem; s.wg.Done() }()
			s.answer(ctx, conn)
		}()
	}
	s.wg.Wait()
	os.Remove(s.path)
}

// answer reads one request from conn and answers it.
func (s *socketServer) answer(ctx context.Context, conn net.Conn) {
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(idleTimeout))
	line, err := bufio.NewReaderSize(conn, 1<<16).ReadBytes('\n')
	if err != nil {
		return
	}
	var req request
	var mu sync.Mutex
	w := bufio.NewWriterSize(conn, 1<<16)
	stdout := &frameWriter{mu: &mu, conn: conn, w: w, kind: frameStdout}
	stderr := &frameWriter{mu: &mu, conn: conn, w: w, kind: frameStderr}
	if err = json.Unmarshal(line, &req); err != nil {
		err = usagef("malformed request: %v", err)
	} else {
		err = s.handle(ctx, req, stdout, stderr)
	}
	x := exitFrame{}
	if err != nil {
		x.Code, x.Error = 1, err.Error()
		var ue usageError
		if errors.As(err, &ue) {
			x.Code = 2
		}
	}
	b, _ := json.Marshal(x)
	(&frameWriter{mu: &mu, conn: conn, w: w, kind: frameExit}).Write(b)
	mu.Lock()
	w.Flush()
	mu.Unlock()
}
