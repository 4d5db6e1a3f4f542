package peer

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// accept returns both ends of a connection to ln.
func accept(t *testing.T, ln net.Listener) (client, server net.Conn) {
	t.Helper()
	done := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(done)
			return
		}
		done <- c
	}()
	client, err := net.Dial(ln.Addr().Network(), ln.Addr().String())
	require.NoError(t, err)
	server, ok := <-done
	require.True(t, ok)
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

func TestUnixSocketPeer(t *testing.T) {
	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "s.sock"))
	require.NoError(t, err)
	defer ln.Close()
	_, server := accept(t, ln)
	p := Of(server, "")
	require.Empty(t, p.Problem)
	assert.Equal(t, "unix", p.Network)
	assert.Equal(t, os.Getuid(), p.UID)
	assert.Equal(t, os.Getpid(), p.PID)
}

// The loopback peer's uid comes from the real /proc/net/tcp (and tcp6).
// (A peer of another host is not listed there: nothing here can be one.)
func TestLoopbackPeer(t *testing.T) {
	for _, network := range []string{"tcp4", "tcp6"} {
		t.Run(network, func(t *testing.T) {
			addr := "127.0.0.1:0"
			if network == "tcp6" {
				addr = "[::1]:0"
			}
			ln, err := net.Listen(network, addr)
			if err != nil {
				t.Skipf("no %s loopback here: %v", network, err)
			}
			defer ln.Close()
			client, server := accept(t, ln)
			p := Of(server, "")
			require.Empty(t, p.Problem)
			assert.True(t, p.Local)
			assert.Equal(t, client.LocalAddr().String(), p.Addr)
			assert.Equal(t, os.Getuid(), p.UID)
		})
	}
}

// A peer that connects to one of this machine's own addresses, not
// loopback, is on this machine too.
func TestPeerOnAnInterfaceAddress(t *testing.T) {
	addrs, err := net.InterfaceAddrs()
	require.NoError(t, err)
	var ip netip.Addr
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if x, ok := netip.AddrFromSlice(n.IP); ok && x.Unmap().Is4() && !x.IsLoopback() {
				ip = x.Unmap()
				break
			}
		}
	}
	if !ip.IsValid() {
		t.Skip("no IPv4 address besides loopback here")
	}
	ln, err := net.Listen("tcp", netip.AddrPortFrom(ip, 0).String())
	require.NoError(t, err)
	defer ln.Close()
	_, server := accept(t, ln)
	p := Of(server, "")
	require.Empty(t, p.Problem)
	assert.True(t, p.Local)
	assert.Equal(t, os.Getuid(), p.UID)
	assert.True(t, localAddr(ip))
	assert.False(t, localAddr(netip.MustParseAddr("192.0.2.1")), "TEST-NET-1 is no address of this machine")
}

// A fake /proc: the peer's end of the connection is found among others,
// by both addresses; a table without it says so.
func TestSocketOwnerTable(t *testing.T) {
	proc := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(proc, "net"), 0o755))
	table := "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" +
		// the server's end, then a socket to another port, then the peer's end
		"   0: " + hexAddr(t, "127.0.0.1:8765") + " " + hexAddr(t, "127.0.0.1:40000") + " 01 00000000:00000000 00:00000000 00000000   998        0 1 1\n" +
		"   1: " + hexAddr(t, "127.0.0.1:40000") + " " + hexAddr(t, "127.0.0.1:9999") + " 01 00000000:00000000 00:00000000 00000000  1001        0 2 1\n" +
		"   2: " + hexAddr(t, "127.0.0.1:40000") + " " + hexAddr(t, "127.0.0.1:8765") + " 01 00000000:00000000 00:00000000 00000000  1000        0 3 1\n"
	require.NoError(t, os.WriteFile(filepath.Join(proc, "net", "tcp"), []byte(table), 0o644))
	uid, err := socketOwner(proc, netip.MustParseAddrPort("127.0.0.1:40000"), netip.MustParseAddrPort("127.0.0.1:8765"))
	require.NoError(t, err)
	assert.Equal(t, 1000, uid)

	_, err = socketOwner(proc, netip.MustParseAddrPort("127.0.0.1:40001"), netip.MustParseAddrPort("127.0.0.1:8765"))
	assert.ErrorContains(t, err, "no socket from 127.0.0.1:40001 to 127.0.0.1:8765")
}

func TestParseSocketAddr(t *testing.T) {
	for _, a := range []string{"127.0.0.1:8765", "[::1]:443", "[::ffff:127.0.0.1]:1", "10.1.2.3:65535"} {
		want := netip.MustParseAddrPort(a)
		got, err := parseSocketAddr(hexAddr(t, a))
		require.NoError(t, err, a)
		assert.Equal(t, want, got)
	}
	for _, bad := range []string{"", "0100007F", "0100007F:XYZ", "01:0050", "zz00007F:0050"} {
		_, err := parseSocketAddr(bad)
		assert.Error(t, err, bad)
	}
}

// hexAddr writes an address as the kernel does: each 32-bit word of it
// as the machine holds it, printed as a number.
func hexAddr(t *testing.T, a string) string {
	t.Helper()
	ap := netip.MustParseAddrPort(a)
	raw := ap.Addr().AsSlice()
	out := ""
	for i := 0; i < len(raw); i += 4 {
		out += fmt.Sprintf("%08X", binary.NativeEndian.Uint32(raw[i:]))
	}
	return out + fmt.Sprintf(":%04X", ap.Port())
}
