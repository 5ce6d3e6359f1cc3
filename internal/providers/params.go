package providers

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
