package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gofrs/flock"
)

// One Ringside per data directory (and so per user): the first launch holds
// a lock file in the data directory, listens on a local socket and writes
// the socket's path next to the lock; a later launch finds the lock taken,
// reads the path, hands its request (a number to dial, or "show yourself")
// to the first over the socket, and exits. The socket is a unix socket in
// a directory only the user can enter (mode 0700, the socket itself 0600):
// $XDG_RUNTIME_DIR on Linux, the data directory otherwise, which on Windows
// is under %LOCALAPPDATA% (Windows 10 and later have AF_UNIX). Keeping the
// lock with the data, not with the socket, keeps two launches that see
// different runtime directories (a login shell and a cron job, say) from
// both becoming the instance.

// Requests a launch hands to the running instance.
const (
	actionShow = "show" // a plain second launch: show a window
	actionDial = "dial" // a tel:/callto: link or `ringside dial NUMBER`
)

// instanceRequest is one line of JSON from a second launch.
type instanceRequest struct {
	Action string `json:"action"`
	Number string `json:"number,omitempty"`
}

// instanceReply is the running instance's answer, one line of JSON.
type instanceReply struct {
	OK      bool   `json:"ok"`
	Message string `json:"message"`
}

// errRunning means another process is the instance for this data directory.
var errRunning = errors.New("Ringside is already running")

// instance is this process's claim on its data directory.
type instance struct {
	lock *flock.Flock
	path string // the socket
	addr string // the file that tells other launches the socket
	ln   net.Listener
	log  *slog.Logger
	wg   sync.WaitGroup
	once sync.Once
}

// instancePaths names the socket, the lock file and the file holding the
// socket's path for a data directory.
func instancePaths(dataDir string) (socket, lock, addr string, err error) {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return "", "", "", err
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return "", "", "", err
	}
	sum := sha256.Sum256([]byte(abs))
	dir, err := socketDir(abs)
	if err != nil {
		return "", "", "", err
	}
	socket = filepath.Join(dir, "ringside-"+hex.EncodeToString(sum[:6])+".sock")
	return socket, filepath.Join(abs, "instance.lock"), filepath.Join(abs, "instance.addr"), nil
}

// claimInstance makes this process the instance for dataDir, listening on
// its socket; it returns errRunning and the running instance's socket when
// another process already is.
func claimInstance(dataDir string, log *slog.Logger) (*instance, string, error) {
	sock, lockPath, addrPath, err := instancePaths(dataDir)
	if err != nil {
		return nil, "", fmt.Errorf("single instance: %w", err)
	}
	lock := flock.New(lockPath)
	ok, err := lock.TryLock()
	if err != nil {
		return nil, "", fmt.Errorf("single instance: lock %s: %w", lockPath, err)
	}
	if !ok {
		return nil, addrPath, errRunning
	}
	fail := func(err error) (*instance, string, error) {
		lock.Unlock()
		return nil, "", fmt.Errorf("single instance: %w", err)
	}
	// We hold the lock, so a socket file left is from a process that died.
	if err := os.Remove(sock); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fail(fmt.Errorf("remove stale %s: %w", sock, err))
	}
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return fail(fmt.Errorf("listen on %s: %w", sock, err))
	}
	if err := restrictSocket(sock); err != nil {
		ln.Close()
		return fail(err)
	}
	if err := os.WriteFile(addrPath, []byte(sock), 0o600); err != nil {
		ln.Close()
		return fail(fmt.Errorf("write %s: %w", addrPath, err))
	}
	return &instance{lock: lock, path: sock, addr: addrPath, ln: ln, log: log}, sock, nil
}

// Serve answers requests with handle until Close. handle must not block
// for long: it runs while the other launch waits.
func (in *instance) Serve(handle func(context.Context, instanceRequest) (string, error)) {
	in.wg.Go(func() { // exits when Close closes the listener
		var conns sync.WaitGroup
		defer conns.Wait()
		for {
			c, err := in.ln.Accept()
			if err != nil {
				return
			}
			conns.Go(func() { in.serveConn(c, handle) }) // exits within the connection deadline
		}
	})
}

func (in *instance) serveConn(c net.Conn, handle func(context.Context, instanceRequest) (string, error)) {
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	_ = c.SetDeadline(time.Now().Add(15 * time.Second))
	var req instanceRequest
	line, err := bufio.NewReader(c).ReadBytes('\n')
	if err == nil {
		err = json.Unmarshal(line, &req)
	}
	if err != nil {
		in.log.Warn("single instance: unreadable request", "error", err)
		return
	}
	reply := instanceReply{OK: true}
	switch req.Action {
	case actionShow, actionDial:
		reply.Message, err = handle(ctx, req)
	default:
		err = fmt.Errorf("unknown request %q", req.Action)
	}
	if err != nil {
		reply = instanceReply{Message: err.Error()}
	}
	_ = json.NewEncoder(c).Encode(reply)
}

// Close stops listening, waits for requests being answered, and lets the
// next launch be the instance. Calling it again does nothing.
func (in *instance) Close() {
	in.once.Do(func() {
		in.ln.Close()
		in.wg.Wait()
		os.Remove(in.path)
		os.Remove(in.addr)
		in.lock.Unlock()
	})
}

// sendToInstance hands req to the running instance whose socket is named
// in the file addr, and returns its answer. The instance may still be
// starting, so reading addr and connecting are retried for a few seconds.
func sendToInstance(ctx context.Context, addr string, req instanceRequest) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var (
		c    net.Conn
		err  error
		d    net.Dialer
		sock string
	)
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		var b []byte
		if b, err = os.ReadFile(addr); err == nil && len(b) > 0 {
			sock = string(b)
			if c, err = d.DialContext(ctx, "unix", sock); err == nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = errors.New("it has not said where it listens")
			}
			return "", fmt.Errorf("Ringside is running but does not answer (%s): %w", addr, err)
		case <-time.After(wait):
		}
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return "", fmt.Errorf("send to the running Ringside: %w", err)
	}
	var reply instanceReply
	if err := json.NewDecoder(c).Decode(&reply); err != nil {
		return "", fmt.Errorf("read the running Ringside's answer: %w", err)
	}
	if !reply.OK {
		return "", errors.New(reply.Message)
	}
	return reply.Message, nil
}
