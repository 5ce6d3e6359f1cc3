package openaiwire

// Params is a set of the OpenAI chat parameters that some adapter cannot
// honour, as a request uses them (Chat.Params) or as an adapter
// declares them (providers.Capabilities). A parameter counts as used only
// when its value asks for something: n other than 1, logprobs true or
// top_logprobs above 0, a non-empty logit_bias, a non-zero penalty, any
// temperature, top_p or seed.
type Params uint16

// The restricted parameters, one bit each.
const (
	ParamN                Params = 1 << iota // n other than 1
	ParamLogprobs                            // logprobs true or top_logprobs > 0
	ParamLogitBias                           // a non-empty logit_bias
	ParamJSONObject                          // response_format {"type":"json_object"}
	ParamToolRequired                        // tool_choice "required"
	ParamTemperature                         // temperature
	ParamTopP                                // top_p
	ParamSeed                                // seed
	ParamFrequencyPenalty                    // a non-zero frequency_penalty
	ParamPresencePenalty                     // a non-zero presence_penalty
	nParams               = iota
)

// SamplingHints are the parameters that change no meaning: an adapter
// that cannot take them drops them (and says so in providers.Capabilities)
// rather than refusing the request.
const SamplingHints = ParamTemperature | ParamTopP | ParamSeed | ParamFrequencyPenalty | ParamPresencePenalty

var paramNames = [nParams]string{"n", "logprobs", "logit_bias", "response_format", "tool_choice", "temperature", "top_p", "seed", "frequency_penalty", "presence_penalty"}

// paramWhat says what a bit stands for, in explain's words.
var paramWhat = [nParams]string{"n", "logprobs", "logit_bias", "response_format json_object", "tool_choice required", "temperature", "top_p", "seed", "frequency_penalty", "presence_penalty"}

// Names lists the parameters of s by their wire names, in a fixed order,
// joined by commas (the X-Tiergate-Dropped header's value).
func (s Params) Names() string { return s.join(&paramNames) }

// String lists the parameters of s as explain names them (with the value
// that matters where there is one: "response_format json_object").
func (s Params) String() string { return s.join(&paramWhat) }

func (s Params) join(names *[nParams]string) string {
	out := ""
	for i := range nParams {
		if s&(1<<i) != 0 {
			if out != "" {
				out += ","
			}
			out += names[i]
		}
	}
	return out
}
