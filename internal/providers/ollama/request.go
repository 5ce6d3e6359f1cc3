package ollama

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/ollama/ollama/api"

	"github.com/tiergate/tiergate/internal/openaiwire"
	"github.com/tiergate/tiergate/internal/providers"
)

// translateRequest maps an OpenAI chat request to Ollama's.
func translateRequest(o *openaiwire.ChatRequest, model string) (*api.ChatRequest, error) {
	bad := func(param, msg string) error { return providers.BadRequest(msg, param) }
	if o.N != nil && *o.N > 1 {
		return nil, bad("n", "Ollama returns one choice per request; n must be 1")
	}
	req := &api.ChatRequest{Model: model, Options: map[string]any{}}
	names := map[string]string{} // tool call id -> function name
	for i, m := range o.Messages {
		at := fmt.Sprintf("messages[%d].content", i)
		am := api.Message{Role: m.Role}
		if m.Role == "developer" {
			am.Role = "system"
		}
		text, parts, ok := openaiwire.ParseContent(m.Content)
		if !ok {
			return nil, bad(at, "content must be a string or an array of content parts")
		}
		if text != nil {
			am.Content = *text
		}
		for _, part := range parts {
			switch part.Type {
			case "text":
				if am.Content != "" {
					am.Content += "\n"
				}
				am.Content += part.TextValue()
			case "image_url":
				if part.ImageURL == nil {
					return nil, bad(at, "image_url part without a url")
				}
				img, err := decodeDataURL(part.ImageURL.URL)
				if err != nil {
					return nil, bad(at, err.Error())
				}
				am.Images = append(am.Images, img)
			default:
				return nil, bad(at, fmt.Sprintf("Ollama cannot take %q content parts", part.Type))
			}
		}
		for _, tc := range m.ToolCalls {
			args := api.NewToolCallFunctionArguments()
			if strings.TrimSpace(tc.Function.Arguments) != "" {
				if err := json.Unmarshal([]byte(tc.Function.Arguments), &args); err != nil {
					return nil, bad(fmt.Sprintf("messages[%d].tool_calls", i), "tool call arguments are not a JSON object: "+err.Error())
				}
			}
			names[tc.ID] = tc.Function.Name
			am.ToolCalls = append(am.ToolCalls, api.ToolCall{ID: tc.ID, Function: api.ToolCallFunction{Name: tc.Function.Name, Arguments: args}})
		}
		if m.Role == "tool" {
			am.ToolCallID = m.ToolCallID
			am.ToolName = names[m.ToolCallID]
			if am.ToolName == "" {
				am.ToolName = m.Name
			}
		}
		req.Messages = append(req.Messages, am)
	}
	for i, t := range o.Tools {
		b, err := json.Marshal(t)
		if err != nil {
			return nil, bad(fmt.Sprintf("tools[%d]", i), err.Error())
		}
		var at api.Tool
		if err := json.Unmarshal(b, &at); err != nil {
			return nil, bad(fmt.Sprintf("tools[%d]", i), "Ollama cannot take this tool definition: "+err.Error())
		}
		req.Tools = append(req.Tools, at)
	}
	var choice string
	if json.Unmarshal(o.ToolChoice, &choice) == nil && choice == "none" {
		req.Tools = nil
	}
	if choice == "required" {
		return nil, providers.Unsupported("Ollama", "tool_choice", "Ollama cannot force a tool call; send tool_choice auto or none")
	}
	if o.Temperature != nil {
		req.Options["temperature"] = *o.Temperature
	}
	if o.TopP != nil && *o.TopP != 0 {
		req.Options["top_p"] = *o.TopP
	}
	if n, _ := o.MaxOutput(); n != nil && *n > 0 {
		req.Options["num_predict"] = int(*n)
	}
	stops, ok := o.StopList()
	if !ok {
		return nil, bad("stop", "stop must be a string or an array of strings")
	}
	if len(stops) > 0 {
		req.Options["stop"] = stops
	}
	if !openaiwire.IsNull(o.Seed) {
		var seed int64
		if err := json.Unmarshal(o.Seed, &seed); err != nil {
			return nil, bad("seed", "seed must be an integer")
		}
		req.Options["seed"] = int(seed)
	}
	if o.PresencePenalty != nil && *o.PresencePenalty != 0 {
		req.Options["presence_penalty"] = *o.PresencePenalty
	}
	if o.FrequencyPenalty != nil && *o.FrequencyPenalty != 0 {
		req.Options["frequency_penalty"] = *o.FrequencyPenalty
	}
	if !openaiwire.IsNull(o.ResponseFormat) {
		var rf openaiwire.ResponseFormat
		if err := json.Unmarshal(o.ResponseFormat, &rf); err != nil {
			return nil, bad("response_format", "response_format must be an object with a type")
		}
		switch rf.Type {
		case "json_object":
			req.Format = json.RawMessage(`"json"`)
		case "json_schema":
			if rf.JSONSchema != nil && !openaiwire.IsNull(rf.JSONSchema.Schema) {
				req.Format = rf.JSONSchema.Schema
			}
		}
	}
	if o.Logprobs != nil && *o.Logprobs {
		// Ollama 0.12 and later answer with them; the translator carries
		// them into choices[].logprobs.
		req.Logprobs = true
		if o.TopLogprobs != nil {
			req.TopLogprobs = int(*o.TopLogprobs)
		}
	}
	if len(req.Options) == 0 {
		req.Options = nil
	}
	return req, nil
}

func decodeDataURL(u string) (api.ImageData, error) {
	if !strings.HasPrefix(u, "data:") {
		//lint:ignore ST1005 Ollama is a name
		return nil, errors.New("Ollama needs images inline: send them as data: URLs (base64), not links")
	}
	comma := strings.IndexByte(u, ',')
	if comma < 0 || !strings.HasSuffix(u[:comma], ";base64") {
		return nil, errors.New("image data URL must be base64 encoded (data:image/png;base64,...)")
	}
	b, err := base64.StdEncoding.DecodeString(u[comma+1:])
	if err != nil {
		return nil, errors.New("image data URL is not valid base64")
	}
	return b, nil
}
