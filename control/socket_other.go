//go:build !windows

package control

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
)

// maxSocketPath is the longest unix socket path Linux accepts (sun_path).
const maxSocketPath = 107

// Address is where the member in dir serves its control API: the unix
// socket DATA/concord.sock, mode 0600, so only its user can connect.
func Address(dir string) string { return SocketPath(dir) }

func listen(dir string) (net.Listener, error) {
	path := SocketPath(dir)
	abs, _ := filepath.Abs(path)
	if len(abs) > maxSocketPath {
		return nil, fmt.Errorf("data dir path too long for the control socket (%d > %d bytes): use a shorter --data", len(abs), maxSocketPath)
	}
	_ = os.Remove(path) // a socket left by a crash (Listen checked that no member answers)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

func dial(ctx context.Context, dir string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "unix", SocketPath(dir))
}
