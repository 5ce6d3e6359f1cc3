// Package registry maps the configuration's provider types to their
// adapters. It is the one package that imports every adapter (and so
// every provider SDK); internal/app and cmd/bench pass its map to
// backends.Build, so that backends, the router and the gateway import no
// adapter. Nothing but the wiring (app, bench) may import it.
package registry

import (
	"github.com/tiergate/tiergate/internal/backends"
	"github.com/tiergate/tiergate/internal/config"
	"github.com/tiergate/tiergate/internal/providers"
	"github.com/tiergate/tiergate/internal/providers/anthropic"
	"github.com/tiergate/tiergate/internal/providers/gemini"
	"github.com/tiergate/tiergate/internal/providers/ollama"
	"github.com/tiergate/tiergate/internal/providers/openai"
)

// Constructors maps config provider types to adapters.
func Constructors() map[string]backends.Constructor {
	return map[string]backends.Constructor{
		config.TypeOpenAI:    func(o providers.Options) (providers.Provider, error) { return openai.New(o) },
		config.TypeOllama:    func(o providers.Options) (providers.Provider, error) { return ollama.New(o) },
		config.TypeAnthropic: func(o providers.Options) (providers.Provider, error) { return anthropic.New(o) },
		config.TypeGemini:    func(o providers.Options) (providers.Provider, error) { return gemini.New(o) },
	}
}
