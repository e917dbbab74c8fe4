package main

// The daemon holds the db file open for writing, and bbolt's lock keeps
// every other process out. While it runs, 'qindex q' and 'qindex status'
// ask it instead, over a unix socket beside the db file (whoever may read the file may connect):
//
//	client: one JSON request line
//	daemon: frames of [kind byte][uint32 big-endian length][payload]
//	        kind 'o' stdout bytes, 'e' stderr bytes,
//	        'h' a heartbeat (no payload) while the answer is being made,
//	        'x' the end: a JSON exitFrame
//
// Clients are untrusted and may be slow or stuck, so every exchange is
// bounded (see the limits below): a request is at most maxRequest bytes and
// must arrive within requestTimeout; each write of the answer must be taken
// within writeTimeout, or the answer is dropped; at most maxClients are
// answered at once, and one more is told so at once rather than queued.
// The daemon sends a heartbeat every heartbeatInterval when it has written
// nothing else, so a client can tell a slow answer from a daemon that is
// stopped: it gives up after answerTimeout without a frame.
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
	Command string        `json:"command"` // "q", "history", "status" or "check"
	Query   *queryRequest `json:"query,omitempty"`
	// DB is the database as the caller named it, for check's messages.
	DB string `json:"db,omitempty"`
}

// exitFrame ends a response: the exit status the command would have, and
// its error message.
type exitFrame struct {
	Code  int    `json:"code"`
	Error string `json:"error,omitempty"`
}

const (
	frameStdout    = 'o'
	frameStderr    = 'e'
	frameHeartbeat = 'h'
	frameExit      = 'x'
)

// The limits of an exchange (documented in the README).
const (
	// dialTimeout bounds the client's connect.
	dialTimeout = 2 * time.Second
	// answerTimeout is how long a client waits for the next frame before
	// it reports that the daemon is not answering (it heartbeats every
	// heartbeatInterval while it works).
	answerTimeout = 5 * time.Second
	// heartbeatInterval is how often the daemon shows it is alive.
	heartbeatInterval = time.Second
	// maxRequest bounds a request line, in bytes.
	maxRequest = 1 << 20
	// requestTimeout bounds the time a client takes to send its request.
	requestTimeout = 5 * time.Second
	// writeTimeout bounds each write of an answer: a client that does not
	// read it for that long (a stopped pager) loses it, and its slot.
	writeTimeout = 30 * time.Second
	// maxClients bounds the requests answered at once.
	maxClients = 128
	// maxFrame bounds a frame's payload.
	maxFrame = 1 << 20
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
	notAnswering := func(err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return fmt.Errorf("the daemon at %s is not answering (no word from it for %s: stopped, or stuck); "+
				"while it holds the database, the file cannot be read instead", path, answerTimeout)
		}
		return fmt.Errorf("the daemon at %s: answer cut short: %w", path, err)
	}
	conn.SetWriteDeadline(time.Now().Add(answerTimeout))
	if _, err := conn.Write(append(b, '\n')); err != nil {
		return true, notAnswering(err)
	}
	r := bufio.NewReaderSize(conn, 1<<16)
	var hdr [5]byte
	var buf []byte
	for {
		conn.SetReadDeadline(time.Now().Add(answerTimeout))
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return true, notAnswering(err)
		}
		n := binary.BigEndian.Uint32(hdr[1:])
		if n > maxFrame {
			return true, fmt.Errorf("the daemon at %s: malformed answer", path)
		}
		buf = append(buf[:0], make([]byte, n)...)
		if _, err := io.ReadFull(r, buf); err != nil {
			return true, notAnswering(err)
		}
		switch hdr[0] {
		case frameStdout:
			if _, err := e.stdout.Write(buf); err != nil {
				return true, err
			}
		case frameStderr:
			e.stderr.Write(buf)
		case frameHeartbeat:
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

// frameWriter sends what is written to it as frames of one kind. The
// frameWriters of one answer share a mutex and a buffered writer.
type frameWriter struct {
	*answerConn
	kind byte
}

// answerConn is the sending side of one answer.
type answerConn struct {
	mu      sync.Mutex
	conn    net.Conn // its write deadline moves with each write
	w       *bufio.Writer
	err     error
	written bool // since the last heartbeat tick
}

func (f frameWriter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for rest := p; len(rest) > 0; {
		n := min(len(rest), maxFrame)
		if err := f.frame(f.kind, rest[:n]); err != nil {
			return 0, err
		}
		rest = rest[n:]
	}
	return len(p), nil
}

// frame writes one frame; the caller holds mu.
func (a *answerConn) frame(kind byte, payload []byte) error {
	if a.err != nil {
		return a.err
	}
	a.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	var hdr [5]byte
	hdr[0] = kind
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(payload)))
	if _, a.err = a.w.Write(hdr[:]); a.err == nil {
		_, a.err = a.w.Write(payload)
	}
	a.written = true
	return a.err
}

// heartbeat sends a heartbeat frame, and what is buffered, unless
// something was written since the last call.
func (a *answerConn) heartbeat() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.written && a.frame(frameHeartbeat, nil) == nil {
		a.err = a.w.Flush()
	}
	a.written = false
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

// listenSocket creates the socket at path, readable and writable by its
// owner only. A socket file left by a daemon that was killed is replaced:
// the caller holds the db lock, so no other daemon can be using it.
func listenSocket(path string, acc access, h handler, logger *slog.Logger) (*socketServer, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&fs.ModeSocket == 0 {
			return nil, fmt.Errorf("socket %s: a file that is not a socket is in the way", path)
		}
		os.Remove(path)
	}
	// Listen under a private name, set its mode and group, then give it its
	// name: no one can connect before they are right.
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	os.Remove(tmp)
	ln, err := net.Listen("unix", tmp)
	if err != nil {
		return nil, fmt.Errorf("socket %s: %w", path, err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	if err := acc.set(tmp, acc.socketMode()); err != nil {
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
	slots := make(chan struct{}, maxClients)
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			if ctx.Err() == nil {
				s.logger.Error("socket: accept failed", "socket", s.path, "err", err)
				s.ln.Close()
			}
			break
		}
		s.wg.Add(1)
		select {
		case slots <- struct{}{}:
			go func() {
				defer func() { <-slots; s.wg.Done() }()
				s.answer(ctx, conn)
			}()
		default:
			go func() {
				defer s.wg.Done()
				s.refuse(conn, fmt.Errorf("the daemon is answering %d clients already; try again in a moment", maxClients))
			}()
		}
	}
	s.wg.Wait()
	os.Remove(s.path)
}

// readRequest reads one request from conn within requestTimeout.
func readRequest(conn net.Conn) (request, error) {
	conn.SetReadDeadline(time.Now().Add(requestTimeout))
	return decodeRequest(conn)
}

// decodeRequest reads one request line, of at most maxRequest bytes, from
// r and decodes it.
func decodeRequest(r io.Reader) (request, error) {
	var req request
	line, err := bufio.NewReader(io.LimitReader(r, maxRequest+1)).ReadBytes('\n')
	switch {
	case len(line) > maxRequest:
		return req, usagef("request larger than %d bytes", maxRequest)
	case err != nil:
		return req, fmt.Errorf("read the request: %w", err)
	}
	if err := json.Unmarshal(line, &req); err != nil {
		return req, usagef("malformed request: %v", err)
	}
	return req, nil
}

// answer reads one request from conn and answers it. A panic in answering
// fails this request only.
func (s *socketServer) answer(ctx context.Context, conn net.Conn) {
	defer conn.Close()
	req, err := readRequest(conn)
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			s.refuse(conn, err)
		}
		return
	}
	a := &answerConn{conn: conn, w: bufio.NewWriterSize(conn, 1<<16)}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(heartbeatInterval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				a.heartbeat()
			}
		}
	}()
	err = store.Guard(func() error {
		return s.handle(ctx, req, frameWriter{a, frameStdout}, frameWriter{a, frameStderr})
	})
	close(done)
	s.finish(a, err)
}

// refuse answers conn with err alone.
func (s *socketServer) refuse(conn net.Conn, err error) {
	defer conn.Close()
	s.finish(&answerConn{conn: conn, w: bufio.NewWriterSize(conn, 4096)}, err)
}

// finish sends the exit frame of err and flushes the answer.
func (s *socketServer) finish(a *answerConn, err error) {
	x := exitFrame{}
	if err != nil {
		x.Code, x.Error = 1, err.Error()
		var ue usageError
		if errors.As(err, &ue) {
			x.Code = 2
		}
	}
	b, _ := json.Marshal(x)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.frame(frameExit, b) == nil {
		a.w.Flush()
	}
}
