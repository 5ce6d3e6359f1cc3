package pgtest_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tiergate/tiergate/internal/testing/pgtest"
)

// TestServer: the server answers on its URL, and a committed row is
// still there after Restart, on the same port.
func TestServer(t *testing.T) {
	ctx := context.Background()
	s := pgtest.Start(t)
	conn, err := pgx.Connect(ctx, s.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('kept')`); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	port := s.Port
	s.Restart()
	if s.Port != port {
		t.Fatalf("restarted on port %d, not %d", s.Port, port)
	}
	conn, err = pgx.Connect(ctx, s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var v string
	if err := conn.QueryRow(ctx, `SELECT v FROM t`).Scan(&v); err != nil || v != "kept" {
		t.Fatalf("after the restart: %q, %v", v, err)
	}
}
