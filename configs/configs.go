// Package configs embeds tiergate's default configuration, so the gateway
// runs with no flags. The YAML files beside this file are the source.
package configs

import (
	"embed"
)

//go:embed tiergate.yaml
var files embed.FS

// DefaultName is the embedded default's name in messages.
const DefaultName = "configs/tiergate.yaml (embedded)"

// Default returns the embedded default configuration.
func Default() []byte {
	b, err := files.ReadFile("tiergate.yaml")
	if err != nil {
		panic(err) // the file is embedded at build time
	}
	return b
}
