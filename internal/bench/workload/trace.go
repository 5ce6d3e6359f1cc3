package workload

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/tiergate/tiergate/internal/openaiwire"
)

// TraceEntry is one request of a trace.
type TraceEntry struct {
	// Line is the entry's line in the file.
	Line int `json:"line"`
	// At is when it is sent, from the trace's start.
	At time.Duration `json:"at"`
	// Messages are sent as they are; without them the prompt is
	// synthetic, InputLen tokens long.
	Messages []openaiwire.Message `json:"messages,omitempty"`
	InputLen int                  `json:"input_len,omitempty"`
	// MaxTokens bounds the answer (0: the run's max_tokens).
	MaxTokens int `json:"max_tokens,omitempty"`
}

// Trace is a trace's requests, in the order they are sent.
type Trace struct {
	Name    string       `json:"name"`
	Entries []TraceEntry `json:"entries"`
	// Absolute says the file's times were timestamps (RFC 3339), taken
	// from the earliest.
	Absolute bool `json:"absolute,omitempty"`
}

// Span is the time from the trace's start to its last request.
func (t *Trace) Span() time.Duration { return t.Entries[len(t.Entries)-1].At }

// traceLine is one line of a trace file.
type traceLine struct {
	Timestamp    json.RawMessage `json:"timestamp"`
	Offset       *float64        `json:"offset"`
	Messages     json.RawMessage `json:"messages"`
	Prompt       *string         `json:"prompt"`
	InputLength  *int            `json:"input_length"`
	OutputLength *int            `json:"output_length"`
	MaxTokens    *int            `json:"max_tokens"`
}

// TraceSyntax describes a trace line, for help and errors.
const TraceSyntax = `{"timestamp": MS or "RFC 3339", "messages": [...] | "prompt": "..." | "input_length": N, "output_length" or "max_tokens": N}`

// maxTraceOffset bounds a trace's length: a week.
const maxTraceOffset = 7 * 24 * time.Hour

// ReadTrace reads a trace: JSONL, one request per line, read line by
// line. Each line has its time, either "timestamp" (a number of
// milliseconds from the trace's start, as in Mooncake's traces, or an RFC
// 3339 time: then offsets are taken from the earliest) or "offset"
// (seconds from the start); the request, as "messages" (OpenAI's array,
// sent as it is), "prompt" (text, sent as a user message) or
// "input_length" (a synthetic prompt of that many tokens); and optionally
// its answer's bound, "max_tokens" or "output_length". Other keys are
// ignored. Requests are sorted by time (stably). name is used in errors.
func ReadTrace(name string, r io.Reader) (*Trace, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxDatasetLine)
	tr := &Trace{Name: name}
	var abs []time.Time
	kind := "" // "relative" or "absolute", from the first line
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		e, t, err := parseTraceLine(b)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		k := "relative"
		if !t.IsZero() {
			k = "absolute"
		}
		if kind == "" {
			kind = k
		} else if k != kind {
			return nil, fmt.Errorf("%s:%d: an %s time where the lines before have %s ones: use one kind throughout", name, line, k, kind)
		}
		e.Line = line
		tr.Entries = append(tr.Entries, e)
		abs = append(abs, t)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("%s:%d: line longer than %d bytes", name, line+1, maxDatasetLine)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(tr.Entries) == 0 {
		return nil, fmt.Errorf("%s: no requests: write one per line, %s", name, TraceSyntax)
	}
	if kind == "absolute" {
		tr.Absolute = true
		first := abs[0]
		for _, t := range abs {
			if t.Before(first) {
				first = t
			}
		}
		for i, t := range abs {
			d := t.Sub(first)
			if d > maxTraceOffset {
				return nil, fmt.Errorf("%s:%d: %s is more than a week after the trace's start", name, tr.Entries[i].Line, t.Format(time.RFC3339))
			}
			tr.Entries[i].At = d
		}
	}
	sort.SliceStable(tr.Entries, func(i, j int) bool { return tr.Entries[i].At < tr.Entries[j].At })
	return tr, nil
}

// parseTraceLine reads a line; an absolute time is returned apart.
func parseTraceLine(b []byte) (TraceEntry, time.Time, error) {
	var e TraceEntry
	var at time.Time
	var l traceLine
	if err := json.Unmarshal(b, &l); err != nil {
		return e, at, fmt.Errorf("not a JSON object (%s): a trace holds one request per line, %s", describe(err), TraceSyntax)
	}
	hasTS := !openaiwire.IsNull(l.Timestamp)
	switch {
	case hasTS && l.Offset != nil:
		return e, at, errors.New(`give "timestamp" or "offset", not both`)
	case l.Offset != nil:
		if !(*l.Offset >= 0) || *l.Offset > maxTraceOffset.Seconds() {
			return e, at, fmt.Errorf(`"offset" %g: give seconds from the trace's start, 0 to a week`, *l.Offset)
		}
		e.At = time.Duration(math.Round(*l.Offset * float64(time.Second)))
	case hasTS && l.Timestamp[0] == '"':
		var s string
		if err := json.Unmarshal(l.Timestamp, &s); err != nil {
			return e, at, fmt.Errorf(`"timestamp": %s`, describe(err))
		}
		t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
		if err != nil {
			return e, at, fmt.Errorf(`"timestamp" %q: give an RFC 3339 time (2024-05-01T12:00:00.250Z) or milliseconds from the start`, s)
		}
		at = t
	case hasTS:
		var ms float64
		if err := json.Unmarshal(l.Timestamp, &ms); err != nil {
			return e, at, fmt.Errorf(`"timestamp" must be milliseconds from the trace's start or an RFC 3339 time: %s`, describe(err))
		}
		if !(ms >= 0) || ms > float64(maxTraceOffset.Milliseconds()) {
			return e, at, fmt.Errorf(`"timestamp" %g: give milliseconds from the trace's start, 0 to a week`, ms)
		}
		e.At = time.Duration(math.Round(ms * float64(time.Millisecond)))
	default:
		return e, at, errors.New(`each line needs its time: "timestamp" (milliseconds from the start, or RFC 3339) or "offset" (seconds)`)
	}
	n := 0
	if !openaiwire.IsNull(l.Messages) {
		n++
		ms, err := parseMessages(l.Messages)
		if err != nil {
			return e, at, err
		}
		e.Messages = ms
	}
	if l.Prompt != nil {
		n++
		if strings.TrimSpace(*l.Prompt) == "" {
			return e, at, errors.New(`"prompt" is empty`)
		}
		e.Messages = []openaiwire.Message{{Role: "user", Content: textContent(*l.Prompt)}}
	}
	if l.InputLength != nil {
		n++
		if *l.InputLength < 1 || *l.InputLength > MaxLen {
			return e, at, fmt.Errorf(`"input_length" %d: give 1 to %d tokens`, *l.InputLength, MaxLen)
		}
		e.InputLen = *l.InputLength
	}
	switch n {
	case 0:
		return e, at, errors.New(`each line needs its request: "messages", "prompt" or "input_length"`)
	case 1:
	default:
		return e, at, errors.New(`give one of "messages", "prompt" and "input_length"`)
	}
	if l.OutputLength != nil && l.MaxTokens != nil && *l.OutputLength != *l.MaxTokens {
		return e, at, errors.New(`"output_length" and "max_tokens" differ: give one`)
	}
	for _, v := range []*int{l.OutputLength, l.MaxTokens} {
		if v != nil {
			if *v < 1 || *v > MaxLen {
				return e, at, fmt.Errorf("the answer's bound %d: give 1 to %d tokens", *v, MaxLen)
			}
			e.MaxTokens = *v
		}
	}
	return e, at, nil
}
