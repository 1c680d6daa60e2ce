package control

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"path/filepath"
	"strings"

	"github.com/Microsoft/go-winio"
	"golang.org/x/sys/windows"
)

// Address is where the member in dir serves its control API: on Windows a
// named pipe, \\.\pipe\concord-<hash of the data dir's absolute path>,
// whose ACL lets only the user who runs the member (and SYSTEM) open it.
//
// Not a unix socket, though Go and Windows 10 1803+ have AF_UNIX: a named
// pipe is Windows' own local IPC, works on every Windows Go supports and
// under Wine 8 (whose Winsock has no AF_UNIX: "winapi error #10047", which
// would leave the Windows build untestable here), and carries an explicit
// ACL instead of relying on the data dir's inherited one.
func Address(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	// Paths are case-insensitive on Windows: C:\Users\Ann and c:\users\ann
	// are one data dir, so one pipe.
	sum := sha256.Sum256([]byte(strings.ToLower(filepath.Clean(abs))))
	return `\\.\pipe\concord-` + hex.EncodeToString(sum[:12])
}

func listen(dir string) (net.Listener, error) {
	sddl, err := ownerOnlySDDL()
	if err != nil {
		return nil, err
	}
	return winio.ListenPipe(Address(dir), &winio.PipeConfig{SecurityDescriptor: sddl})
}

// ownerOnlySDDL is a protected DACL granting full access to this process's
// user and to SYSTEM, and nothing to anyone else.
func ownerOnlySDDL() (string, error) {
	user, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return "", fmt.Errorf("control pipe: the current user: %w", err)
	}
	return "D:P(A;;GA;;;" + user.User.Sid.String() + ")(A;;GA;;;SY)", nil
}

func dial(ctx context.Context, dir string) (net.Conn, error) {
	return winio.DialPipeContext(ctx, Address(dir))
}
