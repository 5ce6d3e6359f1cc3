package responses

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tiergate/tiergate/internal/openaiwire"
	"github.com/tiergate/tiergate/internal/providers"
)

// Stream translates one streamed chat answer into the Responses stream
// events, in OpenAI's order: response.created and response.in_progress
// with the first chunk; for reasoning the backend shows
// (reasoning_content), a reasoning item whose reasoning_text arrives in
// response.reasoning_text.delta events; for text, output_item.added, content_part.added,
// output_text.delta per piece, then output_text.done, content_part.done
// and output_item.done; for each tool call, output_item.added,
// function_call_arguments.delta per piece, function_call_arguments.done
// and output_item.done; and at the end response.completed (or
// response.incomplete) with the whole response and its usage. Every
// event carries the next sequence_number.
//
// It keeps what the closing events repeat (the text and arguments so
// far); each chunk's events are written as the chunk arrives.
type Stream struct {
	started bool
	seq     int
	ids     ids
	resp    *Response
	finish  string

	msg   *MessageItem // the open message item, nil when none
	msgAt int          // its output_index
	text  strings.Builder

	reason   *ReasoningItem // the open reasoning item, nil when none
	reasonAt int
	thought  strings.Builder

	calls map[int]*openCall // by the chat tool call's index
	call  *openCall         // the open function_call item, nil when none
}

type openCall struct {
	item *FunctionCallItem
	at   int
	args strings.Builder
}

// Chunk implements inbound.Stream.
func (s *Stream) Chunk(dst, chunk []byte) ([]byte, error) {
	var c openaiwire.ChatCompletionChunk
	if err := json.Unmarshal(chunk, &c); err != nil {
		return dst, fmt.Errorf("a stream chunk is not JSON: %w", err)
	}
	dst = s.start(dst, c.ID, c.Created, c.Model)
	if c.Usage != nil {
		s.resp.Usage = usage(c.Usage)
	}
	for _, ch := range c.Choices {
		if ch.Index != 0 {
			continue // the Responses API has one answer
		}
		if d := ch.Delta.ReasoningContent; d != nil && *d != "" {
			dst = s.closeMessage(dst)
			dst = s.closeCall(dst)
			dst = s.openReasoning(dst)
			s.thought.WriteString(*d)
			dst = s.event(dst, evReasonDelta, &ReasonDeltaEvent{ItemID: s.reason.ID, OutputIndex: s.reasonAt, Delta: *d})
		}
		if d := ch.Delta.Content; d != nil && *d != "" {
			dst = s.closeReasoning(dst)
			dst = s.closeCall(dst)
			dst = s.openMessage(dst)
			s.text.WriteString(*d)
			dst = s.event(dst, evTextDelta, &TextDeltaEvent{ItemID: s.msg.ID, OutputIndex: s.msgAt, Delta: *d, Logprobs: []any{}})
		}
		for _, tc := range ch.Delta.ToolCalls {
			idx := 0
			if tc.Index != nil {
				idx = *tc.Index
			}
			oc := s.calls[idx]
			if oc == nil {
				dst = s.closeReasoning(dst)
				dst = s.closeMessage(dst)
				dst = s.closeCall(dst)
				oc = &openCall{item: &FunctionCallItem{ID: s.ids.call(tc.ID), Type: typeFunctionCall, Status: statusInProgress,
					CallID: tc.ID, Name: tc.Function.Name}, at: len(s.resp.Output)}
				if s.calls == nil {
					s.calls = map[int]*openCall{}
				}
				s.calls[idx], s.call = oc, oc
				s.resp.Output = append(s.resp.Output, oc.item)
				added := *oc.item
				dst = s.event(dst, evItemAdded, &ItemEvent{OutputIndex: oc.at, Item: &added})
			} else {
				// A server that sends the call's id or name late: the
				// closing events carry them.
				if oc.item.Name == "" {
					oc.item.Name = tc.Function.Name
				}
				if oc.item.CallID == "" {
					oc.item.CallID = tc.ID
				}
			}
			if a := tc.Function.Arguments; a != "" && oc == s.call {
				oc.args.WriteString(a)
				dst = s.event(dst, evArgsDelta, &ArgsDeltaEvent{ItemID: oc.item.ID, OutputIndex: oc.at, Delta: a})
			}
		}
		if ch.FinishReason != nil && *ch.FinishReason != "" {
			s.finish = *ch.FinishReason
			dst = s.closeReasoning(dst)
			dst = s.closeMessage(dst)
			dst = s.closeCall(dst)
		}
	}
	return dst, nil
}

// End implements inbound.Stream: the open items close and
// response.completed (response.incomplete when the token limit or a
// content filter cut the answer) carries the whole response.
func (s *Stream) End(dst []byte) []byte {
	dst = s.start(dst, "", 0, "")
	dst = s.closeReasoning(dst)
	dst = s.closeMessage(dst)
	dst = s.closeCall(dst)
	s.resp.Status, s.resp.IncompleteDetails = outcome(s.finish)
	typ := evCompleted
	if s.resp.Status == statusIncomplete {
		typ = evIncomplete
	}
	return s.event(dst, typ, &ResponseEvent{Response: s.resp})
}

// Fail implements inbound.Stream: response.failed with the error in the
// response, then the error event, which OpenAI's SDKs raise. A Stream
// that translated nothing writes only those two: the client's stream was
// opened by someone else (an upstream whose events passed through).
func (s *Stream) Fail(dst []byte, e *providers.Error) []byte {
	if !s.started {
		s.started, s.ids = true, newIDs("")
		s.resp = s.ids.response(0, "")
	}
	code := e.Code
	if code == "" {
		code = "server_error"
		if e.Type == providers.TypeRateLimit {
			code = "rate_limit_exceeded"
		}
	}
	s.resp.Status = statusFailed
	s.resp.Error = &ResponseError{Code: code, Message: e.Message}
	dst = s.event(dst, evFailed, &ResponseEvent{Response: s.resp})
	ev := &ErrorEvent{Code: &code, Message: e.Message}
	if e.Param != "" {
		ev.Param = &e.Param
	}
	return s.event(dst, evError, ev)
}

// start writes response.created and response.in_progress once.
func (s *Stream) start(dst []byte, id string, created int64, model string) []byte {
	if s.started {
		if s.resp.Model == "" && model != "" {
			s.resp.Model = model
		}
		return dst
	}
	s.started = true
	s.ids = newIDs(id)
	s.resp = s.ids.response(created, model)
	s.resp.Status = statusInProgress
	dst = s.event(dst, evCreated, &ResponseEvent{Response: s.resp})
	return s.event(dst, evInProgress, &ResponseEvent{Response: s.resp})
}

func (s *Stream) openReasoning(dst []byte) []byte {
	if s.reason != nil {
		return dst
	}
	s.reason = &ReasoningItem{ID: s.ids.reasoning(), Type: typeReasoning, Summary: []any{}, Content: []any{}, Status: statusInProgress}
	s.reasonAt = len(s.resp.Output)
	s.thought.Reset()
	added := *s.reason
	dst = s.event(dst, evItemAdded, &ItemEvent{OutputIndex: s.reasonAt, Item: &added})
	s.resp.Output = append(s.resp.Output, s.reason)
	return s.event(dst, evPartAdded, &PartEvent{ItemID: s.reason.ID, OutputIndex: s.reasonAt, Part: &ReasoningText{Type: typeReasonText}})
}

func (s *Stream) closeReasoning(dst []byte) []byte {
	if s.reason == nil {
		return dst
	}
	it := s.reason
	s.reason = nil
	text := s.thought.String()
	dst = s.event(dst, evReasonDone, &ReasonDoneEvent{ItemID: it.ID, OutputIndex: s.reasonAt, Text: text})
	part := &ReasoningText{Type: typeReasonText, Text: text}
	dst = s.event(dst, evPartDone, &PartEvent{ItemID: it.ID, OutputIndex: s.reasonAt, Part: part})
	it.Content, it.Status = []any{part}, statusCompleted
	return s.event(dst, evItemDone, &ItemEvent{OutputIndex: s.reasonAt, Item: it})
}

func (s *Stream) openMessage(dst []byte) []byte {
	if s.msg != nil {
		return dst
	}
	s.msg = &MessageItem{ID: s.ids.message(), Type: typeMessage, Status: statusInProgress, Content: []any{}, Role: "assistant"}
	s.msgAt = len(s.resp.Output)
	s.text.Reset()
	added := *s.msg
	dst = s.event(dst, evItemAdded, &ItemEvent{OutputIndex: s.msgAt, Item: &added})
	s.resp.Output = append(s.resp.Output, s.msg)
	return s.event(dst, evPartAdded, &PartEvent{ItemID: s.msg.ID, OutputIndex: s.msgAt, Part: outputText("")})
}

func (s *Stream) closeMessage(dst []byte) []byte {
	if s.msg == nil {
		return dst
	}
	m := s.msg
	s.msg = nil
	text := s.text.String()
	dst = s.event(dst, evTextDone, &TextDoneEvent{ItemID: m.ID, OutputIndex: s.msgAt, Text: text, Logprobs: []any{}})
	part := outputText(text)
	dst = s.event(dst, evPartDone, &PartEvent{ItemID: m.ID, OutputIndex: s.msgAt, Part: part})
	m.Content = []any{part}
	m.Status = statusCompleted
	if s.finish == "length" || s.finish == "content_filter" {
		m.Status = statusIncomplete
	}
	return s.event(dst, evItemDone, &ItemEvent{OutputIndex: s.msgAt, Item: m})
}

func (s *Stream) closeCall(dst []byte) []byte {
	oc := s.call
	if oc == nil {
		return dst
	}
	s.call = nil
	oc.item.Arguments = oc.args.String()
	oc.item.Status = statusCompleted
	dst = s.event(dst, evArgsDone, &ArgsDoneEvent{ItemID: oc.item.ID, OutputIndex: oc.at, Name: oc.item.Name, Arguments: oc.item.Arguments})
	return s.event(dst, evItemDone, &ItemEvent{OutputIndex: oc.at, Item: oc.item})
}

// event appends one event of type typ ("event:" and "data:" lines) with
// the next sequence number.
func (s *Stream) event(dst []byte, typ string, ev interface{ head() *eventHead }) []byte {
	h := ev.head()
	h.Type, h.SequenceNumber = typ, s.seq
	s.seq++
	dst = append(dst, "event: "...)
	dst = append(dst, typ...)
	dst = append(dst, "\ndata: "...)
	dst = append(dst, openaiwire.MustMarshal(ev)...)
	return append(dst, '\n', '\n')
}
