package openaiemu

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/tiergate/tiergate/internal/testing/emulators/emu"
)

// responsesRequest is what the emulator reads of a POST /v1/responses
// body (OpenAI's Responses API).
type responsesRequest struct {
	Model           *string         `json:"model"`
	Input           json.RawMessage `json:"input"`
	Instructions    *string         `json:"instructions"`
	Stream          bool            `json:"stream"`
	MaxOutputTokens int             `json:"max_output_tokens"`
	Tools           []struct {
		Type string `json:"type"`
		Name string `json:"name"`
	} `json:"tools"`
	ToolChoice         json.RawMessage `json:"tool_choice"`
	PreviousResponseID *string         `json:"previous_response_id"`
	Store              *bool           `json:"store"`
	Temperature        *float64        `json:"temperature"`
	TopP               *float64        `json:"top_p"`
}

// responses serves OpenAI's Responses API as its reference describes it:
// a unary Response object, or the event stream (response.created,
// response.in_progress, output_item.added, content_part.added,
// output_text.delta per word, output_text.done, content_part.done,
// output_item.done, response.completed), each event with its "event:"
// line and sequence_number. With function tools offered (and tool_choice
// not "none"), the model calls the first one, unless the input ends with
// a function_call_output: then it answers in text. A stream fault sends
// the "error" event.
func (s *Server) responses(w http.ResponseWriter, r *http.Request) {
	o := s.Options()
	var req responsesRequest
	if err := json.Unmarshal(bodyFrom(r.Context()), &req); err != nil {
		notJSON(w)
		return
	}
	if req.Model == nil {
		writeError(w, 400, "invalid_request_error", "", "model", "Missing required parameter: 'model'.")
		return
	}
	if req.PreviousResponseID != nil {
		writeError(w, 400, "invalid_request_error", "previous_response_not_found", "previous_response_id", fmt.Sprintf("Previous response with id '%s' not found.", *req.PreviousResponseID))
		return
	}
	o.Fault = o.Fault.For(*req.Model)
	if s.unserved(w, o, *req.Model, "model") {
		return
	}
	prompt, lastIsOutput, ok := inputWords(req.Input)
	if !ok {
		writeError(w, 400, "invalid_request_error", "", "input", "Invalid type for 'input': expected one of a string or an array of input items.")
		return
	}
	if req.Instructions != nil {
		prompt += len(strings.Fields(*req.Instructions))
	}
	tool := ""
	if len(req.Tools) > 0 && req.Tools[0].Type == "function" && string(req.ToolChoice) != `"none"` && !lastIsOutput {
		tool = req.Tools[0].Name
	}
	_, args, pieces := o.pieces(tool)
	incomplete := false
	if req.MaxOutputTokens > 0 && len(pieces) > req.MaxOutputTokens && tool == "" {
		pieces, incomplete = pieces[:req.MaxOutputTokens], true
	}
	now := time.Now()
	stamp := fmt.Sprintf("%x", now.UnixNano())
	respID, itemID, callID := "resp_emu"+stamp, "msg_emu"+stamp, "call_emu"+stamp
	if tool != "" {
		itemID = "fc_emu" + stamp
	}
	usage := map[string]any{"input_tokens": prompt, "input_tokens_details": map[string]any{"cached_tokens": 0},
		"output_tokens": len(pieces), "output_tokens_details": map[string]any{"reasoning_tokens": 0}, "total_tokens": prompt + len(pieces)}
	text := strings.Join(pieces, "")
	item := func(done bool) map[string]any {
		status := "in_progress"
		if done {
			status = "completed"
			if incomplete {
				status = "incomplete"
			}
		}
		if tool != "" {
			a := ""
			if done {
				a = args
			}
			return map[string]any{"id": itemID, "type": "function_call", "status": status, "arguments": a, "call_id": callID, "name": tool}
		}
		content := []any{}
		if done {
			content = []any{outputText(text)}
		}
		return map[string]any{"id": itemID, "type": "message", "status": status, "content": content, "role": "assistant"}
	}
	response := func(status string, output []any, u any) map[string]any {
		var details any
		if status == "incomplete" {
			details = map[string]any{"reason": "max_output_tokens"}
		}
		store := req.Store == nil || *req.Store
		return map[string]any{"id": respID, "object": "response", "created_at": now.Unix(), "status": status, "background": false,
			"error": nil, "incomplete_details": details, "instructions": req.Instructions, "max_output_tokens": nullInt(req.MaxOutputTokens),
			"model": *req.Model, "output": output, "parallel_tool_calls": true, "previous_response_id": nil,
			"reasoning": map[string]any{"effort": nil, "summary": nil}, "store": store, "temperature": orOne(req.Temperature),
			"text": map[string]any{"format": map[string]any{"type": "text"}}, "tool_choice": "auto", "tools": []any{}, "top_p": orOne(req.TopP),
			"truncation": "disabled", "usage": u, "user": nil, "metadata": map[string]any{}}
	}
	final := "completed"
	if incomplete {
		final = "incomplete"
	}
	if !emu.Sleep(r.Context(), o.TTFT) {
		return
	}
	if !req.Stream {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(response(final, []any{item(true)}, usage))
		return
	}
	sse := startSSE(w)
	seq := 0
	send := func(ev map[string]any) bool {
		ev["sequence_number"] = seq
		seq++
		return sse(ev["type"].(string), ev)
	}
	if !send(map[string]any{"type": "response.created", "response": response("in_progress", []any{}, nil)}) ||
		!send(map[string]any{"type": "response.in_progress", "response": response("in_progress", []any{}, nil)}) {
		return
	}
	if o.Fault.CutAtStart {
		emu.Reset(w)
		return
	}
	if !send(map[string]any{"type": "response.output_item.added", "output_index": 0, "item": item(false)}) {
		return
	}
	if tool == "" && !send(map[string]any{"type": "response.content_part.added", "item_id": itemID, "output_index": 0, "content_index": 0, "part": outputText("")}) {
		return
	}
	for i, p := range pieces {
		if !next(r, w, o, i, func() {
			send(map[string]any{"type": "error", "code": "server_error", "param": nil, "message": o.Fault.MessageOr(serverError)})
		}) {
			return
		}
		ev := map[string]any{"type": "response.output_text.delta", "item_id": itemID, "output_index": 0, "content_index": 0, "delta": p, "logprobs": []any{}}
		if tool != "" {
			ev = map[string]any{"type": "response.function_call_arguments.delta", "item_id": itemID, "output_index": 0, "delta": p}
		}
		if !send(ev) {
			return
		}
	}
	if tool != "" {
		if !send(map[string]any{"type": "response.function_call_arguments.done", "item_id": itemID, "output_index": 0, "name": tool, "arguments": args}) {
			return
		}
	} else if !send(map[string]any{"type": "response.output_text.done", "item_id": itemID, "output_index": 0, "content_index": 0, "text": text, "logprobs": []any{}}) ||
		!send(map[string]any{"type": "response.content_part.done", "item_id": itemID, "output_index": 0, "content_index": 0, "part": outputText(text)}) {
		return
	}
	if !send(map[string]any{"type": "response.output_item.done", "output_index": 0, "item": item(true)}) {
		return
	}
	send(map[string]any{"type": "response." + final, "response": response(final, []any{item(true)}, usage)})
}

func outputText(text string) map[string]any {
	return map[string]any{"type": "output_text", "annotations": []any{}, "logprobs": []any{}, "text": text}
}

func nullInt(n int) any {
	if n == 0 {
		return nil
	}
	return n
}

func orOne(f *float64) float64 {
	if f == nil {
		return 1
	}
	return *f
}

// inputWords counts the words of a Responses input (a string or items)
// and says whether its last item is a function_call_output; ok is false
// when input is neither.
func inputWords(raw json.RawMessage) (n int, lastIsOutput, ok bool) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return len(strings.Fields(s)), false, true
	}
	var items []struct {
		Type    string          `json:"type"`
		Content json.RawMessage `json:"content"`
		Output  json.RawMessage `json:"output"`
	}
	if json.Unmarshal(raw, &items) != nil || len(items) == 0 {
		return 0, false, false
	}
	for _, it := range items {
		n += countWords(it.Content) + countWords(it.Output)
	}
	return n, items[len(items)-1].Type == "function_call_output", true
}
