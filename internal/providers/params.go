package providers

import "github.com/tiergate/tiergate/internal/openaiwire"

// Handling says what a translating adapter does with an OpenAI chat
// parameter. Each such adapter documents every parameter in a
// Parameters() []Parameter table, which its tests check against the
// fields of openaiwire.ChatRequest.
type Handling string

// The three ways a parameter is handled.
const (
	Mapped   Handling = "mapped"   // translated to the provider's API
	Ignored  Handling = "ignored"  // accepted and knowingly dropped (see Note)
	Rejected Handling = "rejected" // answered with a 400 invalid_request_error naming the parameter
)

// Parameter describes the handling of one OpenAI chat completion parameter.
type Parameter struct {
	Name     string
	Handling Handling
	// Note says how: the provider's field it maps to, or why it is
	// rejected or ignored.
	Note string
}

// Params is a set of restricted OpenAI chat parameters (openaiwire.Params
// declares them, as the request parser reports them).
type Params = openaiwire.Params

// Capabilities is what an adapter does with the restricted parameters,
// declared once per provider; a parameter in neither set is honoured.
type Capabilities struct {
	// Refused are answered with a 400 naming the parameter.
	Refused Params
	// Dropped are sampling hints (a subset of openaiwire.SamplingHints) the adapter
	// leaves out of the upstream request; the gateway names them in the
	// X-Tiergate-Dropped header.
	Dropped Params
}

// Capable is implemented by a provider that cannot honour every
// restricted parameter. A provider that does not implement it honours
// them all (a pass-through to an OpenAI-compatible server).
type Capable interface {
	ParamSupport() Capabilities
}

// CapabilitiesOf returns p's ParamSupport, the zero value when p honours
// every parameter.
func CapabilitiesOf(p Provider) Capabilities {
	if c, ok := p.(Capable); ok {
		return c.ParamSupport()
	}
	return Capabilities{}
}
