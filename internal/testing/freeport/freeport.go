// Package freeport finds a free loopback TCP port for a test to start a
// server process on: the one copy of that helper the test harnesses
// share. It is test infrastructure and imports only the standard library.
package freeport

import "net"

// Loopback returns a TCP port on 127.0.0.1 that was free a moment ago.
// Another process can take it before the caller binds it, so callers
// retry a failed start.
func Loopback() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
