package openaiwire

import "testing"

// TestParseChatParams: ParseChat reports the restricted parameters a
// request uses, by value (n: 1 or a zero penalty asks for nothing), the
// last of repeated keys winning.
func TestParseChatParams(t *testing.T) {
	const msgs = `"model":"m","messages":[{"role":"user","content":"hi"}]`
	for _, tc := range []struct {
		body string
		want Params
	}{
		{`{` + msgs + `}`, 0},
		{`{` + msgs + `,"n":2}`, ParamN},
		{`{` + msgs + `,"n":1}`, 0},
		{`{` + msgs + `,"n":null}`, 0},
		{`{` + msgs + `,"logprobs":true}`, ParamLogprobs},
		{`{` + msgs + `,"logprobs":false,"top_logprobs":0}`, 0},
		{`{` + msgs + `,"top_logprobs":3}`, ParamLogprobs},
		{`{` + msgs + `,"logit_bias":{}}`, 0},
		{`{` + msgs + `,"logit_bias":{ "50256": -100}}`, ParamLogitBias},
		{`{` + msgs + `,"response_format":{"type":"json_object"}}`, ParamJSONObject},
		{`{` + msgs + `,"response_format":{"type":"json_\u006fbject"}}`, ParamJSONObject},
		{`{` + msgs + `,"response_format":{"type":"json_schema","json_schema":{"name":"x"}}}`, 0},
		{`{` + msgs + `,"response_format":{"type":"json_object"},"response_format":{"type":"text"}}`, 0},
		{`{` + msgs + `,"tool_choice":"required"}`, ParamToolRequired},
		{`{` + msgs + `,"tool_choice":"auto"}`, 0},
		{`{` + msgs + `,"tool_choice":{"type":"function","function":{"name":"required"}}}`, 0},
		{`{` + msgs + `,"temperature":0.3,"top_p":1}`, ParamTemperature | ParamTopP},
		{`{` + msgs + `,"temperature":null}`, 0},
		{`{` + msgs + `,"seed":42}`, ParamSeed},
		{`{` + msgs + `,"seed":42,"seed":null}`, 0},
		{`{` + msgs + `,"frequency_penalty":0,"presence_penalty":0.0e5}`, 0},
		{`{` + msgs + `,"frequency_penalty":-0.5,"presence_penalty":0.01}`, ParamFrequencyPenalty | ParamPresencePenalty},
	} {
		c, err := ParseChat([]byte(tc.body))
		if err != nil {
			t.Fatalf("%s: %v", tc.body, err)
		}
		if c.Params != tc.want {
			t.Errorf("%s: params %q, want %q", tc.body, c.Params, tc.want)
		}
	}
	if got := (ParamTemperature | ParamN | ParamJSONObject).Names(); got != "n,response_format,temperature" {
		t.Errorf("Names = %q", got)
	}
	if got := (ParamJSONObject | ParamToolRequired).String(); got != "response_format json_object,tool_choice required" {
		t.Errorf("String = %q", got)
	}
}
