// Package freeport finds a free loopback TCP port for a test to start a
// server process on: the one copy of that helper the test harnesses
// share. It is test infrastructure and imports only the standard library.
package freeport

import "net"

// Addr returns a loopback address, 127.0.0.1:PORT, whose TCP port was
// free a moment ago. Another process can take it before the caller binds
// it, so callers retry a failed start.
func Addr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
