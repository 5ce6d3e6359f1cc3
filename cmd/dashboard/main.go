// Command dashboard writes tiergate's Grafana dashboard JSON (built in
// Go by package internal/observe/dashboard) to the file named by its
// argument. `go generate ./internal/observe/dashboard` runs it.
package main

import (
	"fmt"
	"os"

	"github.com/tiergate/tiergate/internal/observe/dashboard"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: dashboard FILE")
		os.Exit(2)
	}
	b, err := dashboard.JSON()
	if err == nil {
		err = os.WriteFile(os.Args[1], b, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
