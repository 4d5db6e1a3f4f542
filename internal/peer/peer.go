// Package peer says who is at the other end of a connection to plangate
// server: on a unix socket the peer process's uid, as the kernel recorded
// it when it connected (SO_PEERCRED); on TCP its address, and, when it is
// on this machine, the uid that owns its socket, as /proc/net/tcp lists
// it.
package peer

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Peer is the other end of a connection.
type Peer struct {
	// Network is "unix" or "tcp".
	Network string
	// Addr is a TCP peer's address; "" on a unix socket.
	Addr string
	// Local: a TCP peer on this machine (its socket is listed here, or
	// its address is one of this machine's: loopback or an interface's).
	Local bool
	// UID is the peer's uid; -1 when it is not known, and Problem says
	// why.
	UID int
	// PID is a unix socket peer's process id (0: not known).
	PID     int
	Problem string
}

// Of returns the peer of c (a TLS connection's underlying one). proc is
// the proc file system's mount point; "" means /proc.
func Of(c net.Conn, proc string) Peer {
	if t, ok := c.(*tls.Conn); ok {
		c = t.NetConn()
	}
	if proc == "" {
		proc = "/proc"
	}
	switch conn := c.(type) {
	case *net.UnixConn:
		p := Peer{Network: "unix", UID: -1}
		uid, pid, err := unixPeer(conn)
		if err != nil {
			p.Problem = fmt.Sprintf("the socket's peer credentials cannot be read: %v", err)
			return p
		}
		p.UID, p.PID = uid, pid
		return p
	case *net.TCPConn:
		p := Peer{Network: "tcp", UID: -1, Addr: conn.RemoteAddr().String()}
		remote, err1 := netip.ParseAddrPort(conn.RemoteAddr().String())
		local, err2 := netip.ParseAddrPort(conn.LocalAddr().String())
		if err := errors.Join(err1, err2); err != nil {
			p.Problem = err.Error()
			return p
		}
		uid, err := socketOwner(proc, remote, local)
		switch {
		case err == nil:
			p.Local, p.UID = true, uid
		case localAddr(remote.Addr()):
			p.Local, p.Problem = true, err.Error()
		default:
			p.Problem = "the peer is on another host"
		}
		return p
	default:
		return Peer{UID: -1, Problem: fmt.Sprintf("a %T is neither a unix socket nor TCP", c)}
	}
}

// localAddr reports whether a is loopback or an address of one of this
// machine's interfaces.
func localAddr(a netip.Addr) bool {
	a = a.Unmap()
	if a.IsLoopback() {
		return true
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, ia := range addrs {
		if n, ok := ia.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Unmap() == a {
				return true
			}
		}
	}
	return false
}

// socketOwner finds the uid owning the TCP socket whose local address is
// peer and remote address local (the peer's end of our connection) in
// proc/net/tcp and tcp6.
func socketOwner(proc string, peer, local netip.AddrPort) (int, error) {
	var errs []error
	for _, name := range []string{"tcp", "tcp6"} {
		uid, found, err := scanSockets(filepath.Join(proc, "net", name), peer, local)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if found {
			return uid, nil
		}
	}
	if len(errs) == 2 {
		return -1, errors.Join(errs...)
	}
	return -1, fmt.Errorf("no socket from %s to %s is listed in %s/net/tcp or tcp6 (another network namespace?)", peer, local, proc)
}

// scanSockets reads one /proc/net/tcp table:
//
//	sl  local_address rem_address   st tx_queue:rx_queue tr:tm->when retrnsmt   uid ...
//	 0: 0100007F:1F90 0100007F:D2A4 01 00000000:00000000 00:00000000 00000000  1000 ...
func scanSockets(path string, peer, local netip.AddrPort) (uid int, found bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return -1, false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // the header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 8 {
			continue
		}
		l, err1 := parseSocketAddr(fields[1])
		r, err2 := parseSocketAddr(fields[2])
		if err1 != nil || err2 != nil || !sameAddr(l, peer) || !sameAddr(r, local) {
			continue
		}
		uid, err := strconv.Atoi(fields[7])
		if err != nil {
			return -1, false, fmt.Errorf("%s: uid %q is not a number", path, fields[7])
		}
		return uid, true, nil
	}
	return -1, false, sc.Err()
}

func sameAddr(a, b netip.AddrPort) bool {
	return a.Port() == b.Port() && a.Addr().Unmap() == b.Addr().Unmap()
}

// parseSocketAddr reads the kernel's ADDR:PORT: the address as 32-bit
// words in hex, each in the machine's byte order, the port in hex.
func parseSocketAddr(s string) (netip.AddrPort, error) {
	addr, port, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("%q is not ADDR:PORT", s)
	}
	raw, err := hex.DecodeString(addr)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, fmt.Errorf("%q is not an address", addr)
	}
	for i := 0; i < len(raw); i += 4 {
		binary.NativeEndian.PutUint32(raw[i:], binary.BigEndian.Uint32(raw[i:]))
	}
	p, err := strconv.ParseUint(port, 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%q is not a port", port)
	}
	ip, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(ip, uint16(p)), nil
}
