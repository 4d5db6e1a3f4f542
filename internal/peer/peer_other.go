//go:build !linux

package peer

import (
	"errors"
	"net"
)

func unixPeer(*net.UnixConn) (uid, pid int, err error) {
	return -1, 0, errors.New("SO_PEERCRED is read on Linux only")
}
